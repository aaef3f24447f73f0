/**
 * Packet traces for people: one line per packet with who sent it, what it says and its bytes.
 * Used by the demo, by `pub`/`sub --debug`, and by the emulator command's `--trace`.
 *
 * The summary is the codec's own (`describePacket`, which the library's NODE_DEBUG trace uses too):
 * never a password, only its length, and nothing a terminal could misread. The password's bytes
 * are masked in the hex.
 */
import type { Duplex } from 'node:stream';
import { decodeFrame } from '../packet/codec.js';
import { packetSummary } from '../packet/describe.js';
import type { Packet } from '../packet/types.js';
import type { TransportOptions } from '../transport/options.js';
import { maskedHexPreview } from './hex.js';
import type { Style } from './style.js';

/** Bytes of a frame shown in a trace line before `…`. */
export const TRACE_HEX_BYTES = 16;

/**
 * `device -> platform  CONNECT     clientId=… keepalive=300 …` and, on the next line, the frame's
 * first bytes in hex. `up` is the client's direction (coloured apart from the server's).
 */
export function traceLine(label: string, up: boolean, packet: Packet, frame: Uint8Array, style: Style, indent = '  '): string {
  const head = `${indent}${(up ? style.up : style.down)(label)}  ${style.bold(packet.type.toUpperCase().padEnd(11))} ${packetSummary(packet)}`.trimEnd();
  const hex = `${indent}${' '.repeat(label.length + 2)}${style.dim(maskedHexPreview(frame, packet, TRACE_HEX_BYTES))}`;
  return `${head}\n${hex}\n`;
}

/**
 * Cuts a byte stream into frames, for tracing what crossed a socket. Built on the codec's own
 * fixed-header parser; the first bytes it cannot read end the trace of that stream (the client
 * itself reports the protocol error).
 */
export class FrameCutter {
  private held: Uint8Array = new Uint8Array(0);
  private broken = false;

  /** The whole frames completed by `chunk`, each with its decoded packet. */
  push(chunk: Uint8Array): Array<{ frame: Uint8Array; packet: Packet }> {
    if (this.broken) return [];
    // A copy: the caller's chunk may be a view into memory that is reused after the write.
    const bytes = new Uint8Array(this.held.length + chunk.length);
    bytes.set(this.held);
    bytes.set(chunk, this.held.length);
    const out: Array<{ frame: Uint8Array; packet: Packet }> = [];
    let pos = 0;
    try {
      for (;;) {
        const decoded = decodeFrame(bytes, pos);
        if (decoded === null) break;
        out.push({ frame: bytes.subarray(pos, pos + decoded.length), packet: decoded.packet });
        pos += decoded.length;
      }
    } catch {
      this.broken = true;
    }
    this.held = bytes.subarray(pos);
    return out;
  }
}

/** Sees each frame a traced socket sends (`up`) or receives. */
export type FrameTap = (up: boolean, packet: Packet, frame: Uint8Array) => void;

/**
 * Wraps an `openSocket` so every frame written to or read from the socket is shown to `tap`,
 * without changing what the client sees. It patches the socket's `write` and `emit('data')`
 * rather than adding a 'data' listener, because a listener would switch the socket into flowing
 * mode and could see data before the client has attached its own.
 */
export function tappedOpenSocket(open: (options: TransportOptions) => Promise<Duplex>, tap: FrameTap): (options: TransportOptions) => Promise<Duplex> {
  return async (options) => {
    const socket = await open(options);
    const sent = new FrameCutter();
    const received = new FrameCutter();
    const write = socket.write.bind(socket) as (...args: unknown[]) => boolean;
    socket.write = ((chunk: unknown, ...rest: unknown[]) => {
      if (chunk instanceof Uint8Array) for (const f of sent.push(chunk)) tap(true, f.packet, f.frame);
      return write(chunk, ...rest);
    }) as Duplex['write'];
    const emit = socket.emit.bind(socket) as (event: string | symbol, ...args: unknown[]) => boolean;
    socket.emit = ((event: string | symbol, ...args: unknown[]) => {
      const chunk = args[0];
      if (event === 'data' && chunk instanceof Uint8Array) for (const f of received.push(chunk)) tap(false, f.packet, f.frame);
      return emit(event, ...args);
    }) as Duplex['emit'];
    return socket;
  };
}
