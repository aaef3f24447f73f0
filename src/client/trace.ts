/**
 * One-line packet summaries for `NODE_DEBUG=aliot` traces. Passwords are never printed, only
 * their length; payloads are shown as their size and, when short and printable, their text.
 */
import type { Packet } from '../packet/types.js';

const printable = /^[\x20-\x7e]*$/;

function preview(payload: Uint8Array): string {
  if (payload.length > 64) return `${payload.length} B`;
  const text = Buffer.from(payload.buffer, payload.byteOffset, payload.length).toString('latin1');
  return printable.test(text) ? `${payload.length} B ${JSON.stringify(text)}` : `${payload.length} B`;
}

export function describePacket(p: Packet): string {
  switch (p.type) {
    case 'connect':
      return (
        `CONNECT clientId=${JSON.stringify(p.clientId)} keepalive=${p.keepalive} clean=${p.clean}` +
        (p.username === undefined ? '' : ` username=${JSON.stringify(p.username)}`) +
        (p.password === undefined ? '' : ` password=[${p.password.length} bytes redacted]`) +
        (p.will === undefined ? '' : ` will=${JSON.stringify(p.will.topic)}`)
      );
    case 'connack':
      return `CONNACK sessionPresent=${p.sessionPresent} returnCode=${p.returnCode}`;
    case 'publish':
      return (
        `PUBLISH ${JSON.stringify(p.topic)} qos=${p.qos}` +
        (p.packetId === undefined ? '' : ` id=${p.packetId}`) +
        (p.dup ? ' dup' : '') +
        (p.retain ? ' retain' : '') +
        ` payload=${preview(p.payload)}`
      );
    case 'subscribe':
      return `SUBSCRIBE id=${p.packetId} ${p.subscriptions.map((s) => `${s.topicFilter}@${s.qos}`).join(' ')}`;
    case 'suback':
      return `SUBACK id=${p.packetId} codes=${p.returnCodes.join(',')}`;
    case 'unsubscribe':
      return `UNSUBSCRIBE id=${p.packetId} ${p.topicFilters.join(' ')}`;
    case 'puback':
    case 'pubrec':
    case 'pubrel':
    case 'pubcomp':
    case 'unsuback':
      return `${p.type.toUpperCase()} id=${p.packetId}`;
    default:
      return p.type.toUpperCase();
  }
}
