/**
 * What the demos share: the annotated trace of every packet the stand-in sees and sends, the
 * wait for a step's traffic to settle, and the paragraphs under each step's heading.
 */
import type { Emulator, PacketEvent } from '../emulator/types.js';
import { explain, renderExplanation } from './explain.js';
import type { Style } from './style.js';
import { wrapWords } from './text.js';
import { traceLine } from './trace.js';

export const WIDTH = 92;
/** A step's traffic is over when no QoS 1 message awaits its PUBACK and the wire has been quiet this long. */
const QUIET_MS = 30;
/** Never wait longer than this for a step's traffic to settle. */
const SETTLE_LIMIT_MS = 2000;

/** `text` wrapped at WIDTH and indented, as the explanation under a step heading. */
export function paragraph(text: string, indent = '    '): string {
  return `${wrapWords(text, WIDTH - indent.length).map((line) => indent + line).join('\n')}\n`;
}

export interface WireOptions {
  /** Who the client is in the trace: `device -> platform`, `gateway -> platform`. */
  readonly party: string;
  /** Also dissect every packet field by field. */
  readonly dissect: boolean;
  /** Where the trace goes (a demo drawing a progress bar ends the bar's line first). */
  readonly write: (text: string) => void;
  /** What is shown instead of a frame: secrets in a payload masked (see demo-mask.ts). */
  readonly shown?: ((event: PacketEvent) => Pick<PacketEvent, 'packet' | 'bytes'>) | undefined;
}

/** Prints the packets the stand-in sees and sends, and tells when a step's traffic is over. */
export class Wire {
  /** QoS 1 PUBLISH ids awaiting their PUBACK, per direction and connection. */
  readonly #awaiting = { in: new Set<string>(), out: new Set<string>() };
  #lastPacketAt = 0;
  packets = 0;
  readonly bytes = { in: 0, out: 0 };

  constructor(
    emulator: Emulator,
    private readonly style: Style,
    private readonly options: WireOptions,
  ) {
    emulator.on('packet', (event) => this.#seen(event));
  }

  #seen(event: PacketEvent): void {
    const { direction, packet, bytes, connection } = event;
    this.packets++;
    this.bytes[direction] += bytes.length;
    this.#lastPacketAt = performance.now();
    if (packet.type === 'publish' && packet.qos === 1) this.#awaiting[direction].add(`${connection.id}:${packet.packetId!}`);
    // A PUBACK travelling one way acknowledges a PUBLISH that travelled the other way.
    if (packet.type === 'puback') this.#awaiting[direction === 'in' ? 'out' : 'in'].delete(`${connection.id}:${packet.packetId}`);
    const up = direction === 'in';
    const { party, dissect, write } = this.options;
    const shown = this.options.shown?.(event) ?? event;
    write(traceLine(up ? `${party} -> platform` : `platform -> ${party}`, up, shown.packet, shown.bytes, this.style, '    '));
    if (dissect) {
      const text = renderExplanation(explain(shown.bytes), this.style);
      write(`${text.replace(/^/gm, '        ').replace(/ +$/gm, '')}\n`);
    }
  }

  /** Resolves when every QoS 1 message has its PUBACK and nothing has moved for a moment. */
  async settled(): Promise<void> {
    const start = performance.now();
    for (;;) {
      const busy = this.#awaiting.in.size + this.#awaiting.out.size > 0 || performance.now() - this.#lastPacketAt < QUIET_MS;
      if (!busy || performance.now() - start > SETTLE_LIMIT_MS) return;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }
}
