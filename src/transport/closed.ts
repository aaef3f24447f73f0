/**
 * A connection over plain TCP that the server dropped right after CONNECT, before any CONNACK:
 * what a server that speaks TLS on that port does with plain MQTT. The transport hands over a
 * plain TCP socket as soon as it connects, so the session is where this shows; the session (or a
 * tool that watches it) asks here what it means.
 */
import type { Advice, Hint } from '../shared/advice.js';

/** What the session saw of a connection the server closed before CONNACK. */
export interface EarlyCloseFacts {
  readonly transport: 'tls' | 'tcp';
  readonly port: number;
  /** The first bytes the server sent before closing, if any (a few are enough). */
  readonly received?: Uint8Array | undefined;
}

export type EarlyCloseHintCode =
  /** The server answered with a TLS record: this port speaks TLS. */
  | 'tls-answer'
  /** The server sent nothing and closed: a TLS port does that to plain MQTT. */
  | 'closed-like-tls-port';

/** Ports MQTT commonly runs over TLS on: 8883 is IANA's secure-mqtt, 443 the port firewalls let through. */
const TLS_PORTS = new Set([8883, 443]);

const USE_TLS: Advice = { code: 'use-tls', text: 'connect with {option}', option: { name: 'transport', value: 'tls' } };

/** TLS record content types that come first from a server: handshake (22) and alert (21). */
const RECORD_TYPES: Readonly<Record<number, string>> = { 21: 'an alert', 22: 'a handshake message' };

/**
 * Whether the bytes start like a TLS record: content type, then protocol version 3.x. No MQTT
 * packet a server sends starts so (0x15 and 0x16 are CONNECT with reserved flags set).
 */
export function looksLikeTls(bytes: Uint8Array): boolean {
  return bytes.length >= 3 && RECORD_TYPES[bytes[0]!] !== undefined && bytes[1] === 3 && bytes[2]! <= 4;
}

/**
 * The hint for a plain TCP connection the server closed before CONNACK, or `undefined` when
 * nothing points at TLS (a TLS connection, or a server that sent something that is not TLS).
 */
export function earlyCloseHint(facts: EarlyCloseFacts): Hint<EarlyCloseHintCode> | undefined {
  if (facts.transport !== 'tcp') return undefined;
  const received = facts.received ?? new Uint8Array(0);
  if (looksLikeTls(received)) {
    return {
      code: 'tls-answer',
      text: `the server answered CONNECT with a TLS record (${RECORD_TYPES[received[0]!]}): port ${facts.port} speaks TLS, not plain MQTT`,
      advice: [USE_TLS],
    };
  }
  if (received.length > 0) return undefined;
  const usual = TLS_PORTS.has(facts.port) ? `port ${facts.port} usually carries MQTT over TLS, and ` : '';
  return {
    code: 'closed-like-tls-port',
    text: `${usual}a server that speaks TLS closes a plain MQTT connection this way, right after CONNECT`,
    advice: [{ ...USE_TLS, text: 'if this port speaks TLS, connect with {option}' }],
  };
}
