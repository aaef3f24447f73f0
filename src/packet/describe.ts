/**
 * One line per packet, for people: the library's NODE_DEBUG trace and the CLI's packet traces.
 *
 *   CONNECT clientId=dev1 keepalive=60 clean=1 username=dev1&pk password=[40 bytes]
 *   PUBLISH a/b qos=1 id=7 {"on":true}
 *
 * Safe to print whatever the peer sent: a password shows as its length only; strings that a
 * terminal could misread (control characters, escape sequences, bidirectional overrides, line
 * separators, quotes, spaces) are quoted with those characters escaped; payloads show as text
 * only when they are UTF-8 text, cut to a preview, else as their size; long lists are cut.
 * Pure: no I/O, no Node.js built-ins.
 */
import type { Packet } from './types.js';

/** Connect Return code meanings (section 3.2.2.3, Table 3.1), lower case for a running line. */
const RETURN_CODES = [
  'accepted',
  'unacceptable protocol version',
  'identifier rejected',
  'server unavailable',
  'bad user name or password',
  'not authorized',
] as const;

/** Characters of a topic, client id or user name shown before `…`. */
const MAX_STRING = 128;
/** Characters of a text payload shown before `…`. */
const MAX_PAYLOAD = 60;
/** Filters or return codes listed before `… N more`. */
const MAX_ITEMS = 8;

/** One line saying what `packet` is and holds, its type name first. Never shows a password. */
export function describePacket(packet: Packet): string {
  const summary = packetSummary(packet);
  const name = packet.type.toUpperCase();
  return summary === '' ? name : `${name} ${summary}`;
}

/**
 * What {@link describePacket} says after the type name (empty for PINGREQ, PINGRESP and
 * DISCONNECT), for a trace that sets the type name in a column of its own.
 * @internal
 */
export function packetSummary(packet: Packet): string {
  switch (packet.type) {
    case 'connect': {
      const parts = [`clientId=${shown(packet.clientId)}`, `keepalive=${packet.keepalive}`, `clean=${packet.clean ? 1 : 0}`];
      if (packet.username !== undefined) parts.push(`username=${shown(packet.username)}`);
      if (packet.password !== undefined) parts.push(`password=[${bytes(packet.password.length)}]`);
      const will = packet.will;
      if (will !== undefined) {
        parts.push(`will=${shown(will.topic)} (qos ${will.qos}${will.retain ? ', retain' : ''}, ${bytes(will.payload.length)})`);
      }
      return parts.join(' ');
    }
    case 'connack':
      return `session present ${packet.sessionPresent ? 1 : 0}, return code ${packet.returnCode} (${RETURN_CODES[packet.returnCode] ?? 'reserved'})`;
    case 'publish': {
      const id = packet.packetId === undefined ? '' : ` id=${packet.packetId}`;
      return `${shown(packet.topic)} qos=${packet.qos}${id}${packet.dup ? ' dup' : ''}${packet.retain ? ' retain' : ''} ${payloadPreview(packet.payload)}`;
    }
    case 'subscribe':
      return `id=${packet.packetId} ${list(packet.subscriptions.map((s) => `${shown(s.topicFilter)} (qos ${s.qos})`))}`;
    case 'suback':
      return `id=${packet.packetId} ${list(packet.returnCodes.map((c) => (c === 0x80 ? 'refused' : `granted qos ${c}`)))}`;
    case 'unsubscribe':
      return `id=${packet.packetId} ${list(packet.topicFilters.map((f) => shown(f)))}`;
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

function bytes(n: number): string {
  return n === 1 ? '1 byte' : `${n} bytes`;
}

function list(items: readonly string[]): string {
  if (items.length <= MAX_ITEMS) return items.join(', ');
  return `${items.slice(0, MAX_ITEMS).join(', ')}, … ${items.length - MAX_ITEMS} more`;
}

/**
 * What a terminal could misread: C0 and C1 controls and DEL (escape sequences start with ESC or
 * CSI), soft hyphen and zero-width and bidirectional formatting characters (text that reads
 * other than it is), line and paragraph separators, the byte order mark, and unpaired surrogates.
 */
const UNSAFE =
  /[\u0000-\u001f\u007f-\u009f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ufff9-\ufffb]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const EACH_UNSAFE = new RegExp(UNSAFE.source, 'g');

/** A string as is when it reads unambiguously in a line of `key=value`s, else quoted and escaped. */
function shown(text: string): string {
  const cut = cutTo(text, MAX_STRING);
  if (cut !== '' && !/[\s"\\]/.test(cut) && !UNSAFE.test(cut)) return cut;
  return `"${escapeUnsafe(cut.replace(/["\\]/g, (c) => `\\${c}`))}"`;
}

/** Every unsafe character escaped as JSON would write it (`\n`, `\u001b`). */
function escapeUnsafe(text: string): string {
  return text.replace(EACH_UNSAFE, (c) => {
    if (c === '\n') return '\\n';
    if (c === '\r') return '\\r';
    if (c === '\t') return '\\t';
    return `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
  });
}

/** `text` cut to `max` characters with `…`, never between the halves of a surrogate pair. */
function cutTo(text: string, max: number): string {
  if (text.length <= max) return text;
  const end = /[\ud800-\udbff]/.test(text[max - 1]!) ? max - 1 : max;
  return `${text.slice(0, end)}…`;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * A payload as a preview of its text when it is UTF-8 text (JSON, a number, words; line breaks
 * and tabs shown as `\n` and `\t`), else as its size: `[3 bytes]`.
 */
function payloadPreview(payload: Uint8Array): string {
  if (payload.length === 0) return '[0 bytes]';
  // Only the start is shown: at most 4 bytes a character, cut back to the start of a character.
  let end = Math.min(payload.length, MAX_PAYLOAD * 4);
  if (end < payload.length) while (end > 0 && (payload[end]! & 0xc0) === 0x80) end--;
  let text: string;
  try {
    text = utf8.decode(payload.subarray(0, end));
  } catch {
    return `[${bytes(payload.length)}]`;
  }
  if (UNSAFE.test(text.replace(/[\t\n\r]/g, ''))) return `[${bytes(payload.length)}]`;
  const cut = text.length > MAX_PAYLOAD ? cutTo(text, MAX_PAYLOAD) : end < payload.length ? `${text}…` : text;
  return escapeUnsafe(cut);
}
