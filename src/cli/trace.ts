/**
 * Packet traces for people: one line per packet with who sent it, what it says and its bytes.
 * Used by the demo, by `pub`/`sub --debug`, and by the emulator command's `--trace`.
 *
 * The summary is the codec's own (`describePacket`, which the library's NODE_DEBUG trace uses too):
 * never a password, only its length, and nothing a terminal could misread. The password's bytes
 * are masked in the hex.
 */
import type { MqttClient } from '../client/client.js';
import { packetSummary } from '../packet/describe.js';
import type { Packet } from '../packet/types.js';
import { debug } from '../shared/builtins.js';
import { maskedHexPreview } from './hex.js';
import type { Io } from './io.js';
import { PLAIN } from './style.js';
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
 * `--debug`: every packet the client sends or receives, on `io.stderr`, from the client's own
 * packet events. When NODE_DEBUG=aliot is set the library traces them already, so this stays
 * off rather than print each twice.
 */
export function traceClient(client: MqttClient, io: Io): void {
  if (debug.enabled) return;
  client.on('packetsend', (packet, frame) => io.stderr.write(traceLine('client -> broker', true, packet, frame, PLAIN)));
  client.on('packetreceive', (packet, frame) => io.stderr.write(traceLine('broker -> client', false, packet, frame, PLAIN)));
}
