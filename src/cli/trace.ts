/**
 * Packet traces for people: one line per packet with who sent it, what it says and its bytes.
 * Used by the demo, by `pub`/`sub --debug`, and by the emulator command's `--trace`.
 *
 * Passwords are never shown: the CONNECT summary gives the password's length only, and its bytes
 * are masked in the hex.
 */
import type { MqttClient } from '../client/client.js';
import type { Packet } from '../packet/types.js';
import { debug } from '../shared/builtins.js';
import { maskedHexPreview } from './hex.js';
import type { Io } from './io.js';
import { PLAIN } from './style.js';
import type { Style } from './style.js';

const RETURN_CODES = ['accepted', 'unacceptable protocol version', 'identifier rejected', 'server unavailable', 'bad user name or password', 'not authorized'];

/** Printable text of at most `max` characters, or the size of a binary payload. */
function payloadText(payload: Uint8Array, max: number): string {
  const text = Buffer.from(payload.buffer, payload.byteOffset, payload.length).toString('utf8');
  // Replacement characters mean the bytes were not UTF-8; control characters would break the line.
  if (text.includes('\ufffd') || /[\u0000-\u001f\u007f]/.test(text)) return `[${payload.length} bytes]`;
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

/** What a packet says, in one line, without its type name and never with a password. */
export function summarize(packet: Packet): string {
  switch (packet.type) {
    case 'connect': {
      const parts = [`clientId=${packet.clientId}`, `keepalive=${packet.keepalive}`, `clean=${packet.clean ? 1 : 0}`];
      if (packet.username !== undefined) parts.push(`user=${packet.username}`);
      if (packet.password !== undefined) parts.push(`password=[${packet.password.length} bytes]`);
      if (packet.will !== undefined) parts.push(`will=${packet.will.topic}`);
      return parts.join(' ');
    }
    case 'connack':
      return `session present ${packet.sessionPresent ? 1 : 0}, return code ${packet.returnCode} (${RETURN_CODES[packet.returnCode] ?? 'reserved'})`;
    case 'publish': {
      const flags = `qos=${packet.qos}${packet.packetId === undefined ? '' : ` id=${packet.packetId}`}${packet.dup ? ' dup' : ''}${packet.retain ? ' retain' : ''}`;
      return `${packet.topic} ${flags} ${payloadText(packet.payload, 60)}`;
    }
    case 'subscribe':
      return `id=${packet.packetId} ${packet.subscriptions.map((s) => `${s.topicFilter} (qos ${s.qos})`).join(', ')}`;
    case 'suback':
      return `id=${packet.packetId} ${packet.returnCodes.map((c) => (c === 0x80 ? 'refused' : `granted qos ${c}`)).join(', ')}`;
    case 'unsubscribe':
      return `id=${packet.packetId} ${packet.topicFilters.join(', ')}`;
    case 'puback':
    case 'pubrec':
    case 'pubrel':
    case 'pubcomp':
    case 'unsuback':
      return `id=${packet.packetId}`;
    default:
      return '';
  }
}

/** Bytes of a frame shown in a trace line before `…`. */
export const TRACE_HEX_BYTES = 16;

/**
 * `device -> platform  CONNECT     clientId=… keepalive=300 …` and, on the next line, the frame's
 * first bytes in hex. `up` is the client's direction (coloured apart from the server's).
 */
export function traceLine(label: string, up: boolean, packet: Packet, frame: Uint8Array, style: Style, indent = '  '): string {
  const head = `${indent}${(up ? style.up : style.down)(label)}  ${style.bold(packet.type.toUpperCase().padEnd(11))} ${summarize(packet)}`.trimEnd();
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
