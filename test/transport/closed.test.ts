/** What a plain TCP connection the server dropped before CONNACK says about the port. */
import { describe, expect, it } from 'vitest';
import { earlyCloseHint, looksLikeTls } from '../../src/transport/closed.js';

const bytes = (...values: number[]): Uint8Array => Uint8Array.from(values);

describe('looksLikeTls', () => {
  it.each([
    ['an alert record', bytes(0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x46), true],
    ['a handshake record', bytes(0x16, 0x03, 0x01, 0x00, 0x40), true],
    ['a CONNACK', bytes(0x20, 0x02, 0x00, 0x00), false],
    ['an SSL 2 style version', bytes(0x15, 0x02, 0x00), false],
    ['too short to tell', bytes(0x15, 0x03), false],
    ['nothing', bytes(), false],
  ])('%s: %s', (_name, input, expected) => {
    expect(looksLikeTls(input)).toBe(expected);
  });
});

describe('earlyCloseHint', () => {
  it('says nothing for a TLS connection', () => {
    expect(earlyCloseHint({ transport: 'tls', port: 8883 })).toBeUndefined();
  });

  it('bytes of a TLS record: the port speaks TLS, use transport tls', () => {
    const hint = earlyCloseHint({ transport: 'tcp', port: 1234, received: bytes(0x15, 0x03, 0x03, 0x00, 0x02) });
    expect(hint?.code).toBe('tls-answer');
    expect(hint?.text).toContain('port 1234 speaks TLS');
    expect(hint?.advice).toEqual([expect.objectContaining({ code: 'use-tls', option: { name: 'transport', value: 'tls' } })]);
  });

  it('a silent close: TLS is a possibility, named a likely one on the ports MQTT over TLS uses', () => {
    expect(earlyCloseHint({ transport: 'tcp', port: 8883 })?.text).toMatch(/^port 8883 usually carries MQTT over TLS/);
    expect(earlyCloseHint({ transport: 'tcp', port: 443 })?.text).toMatch(/^port 443 usually/);
    const elsewhere = earlyCloseHint({ transport: 'tcp', port: 18884, received: bytes() });
    expect(elsewhere?.code).toBe('closed-like-tls-port');
    expect(elsewhere?.text).not.toContain('usually');
    expect(elsewhere?.advice[0]?.text).toMatch(/^if this port speaks TLS/);
  });

  it('a server that sent something else (MQTT) gets no TLS hint', () => {
    expect(earlyCloseHint({ transport: 'tcp', port: 8883, received: bytes(0x20, 0x02, 0x00, 0x05) })).toBeUndefined();
  });
});
