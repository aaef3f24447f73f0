import { describe, expect, it, vi } from 'vitest';
import { ConfigurationError } from '../../src/shared/errors.js';
import { openTransport } from '../../src/transport/index.js';
import type { TransportOptions } from '../../src/transport/index.js';
import { DEFAULT_CONNECT_TIMEOUT, resolveTransportOptions } from '../../src/transport/options.js';
import { loopback } from './helpers.js';

describe('resolveTransportOptions: defaults', () => {
  it('defaults to TLS over IPv6 with verification on and a 30 s timeout', () => {
    const resolved = resolveTransportOptions({ host: 'example.invalid', port: 8883 });
    expect(resolved).toMatchObject({
      host: 'example.invalid',
      port: 8883,
      transport: 'tls',
      family: 6,
      rejectUnauthorized: true,
      connectTimeout: 30_000,
      ca: undefined,
      signal: undefined,
      lookup: undefined,
    });
    expect(DEFAULT_CONNECT_TIMEOUT).toBe(30_000);
  });

  it.each([
    ['a name sends itself as SNI', 'broker.example.invalid', 'broker.example.invalid', 'broker.example.invalid'],
    ['an IPv6 literal sends no SNI', '::1', '::1', undefined],
    ['a bracketed IPv6 literal loses its brackets and sends no SNI', '[::1]', '::1', undefined],
    ['an IPv4 literal sends no SNI', '127.0.0.1', '127.0.0.1', undefined],
    ['a scoped IPv6 literal keeps its zone', '[fe80::1%lo]', 'fe80::1%lo', undefined],
  ])('%s', (_label, host, expectedHost, expectedServername) => {
    const resolved = resolveTransportOptions({ host, port: 1883 });
    expect(resolved.host).toBe(expectedHost);
    expect(resolved.servername).toBe(expectedServername);
  });

  it('keeps an explicit servername, also when connecting to an address', () => {
    expect(resolveTransportOptions({ host: '::1', port: 1, servername: 'localhost' }).servername).toBe('localhost');
  });

  it('passes explicit choices through', () => {
    const signal = new AbortController().signal;
    const lookup = vi.fn();
    const resolved = resolveTransportOptions({
      host: 'h.invalid',
      port: 65535,
      transport: 'tcp',
      family: 0,
      rejectUnauthorized: false,
      connectTimeout: 1,
      ca: [loopback.ca, Buffer.from(loopback.ca)],
      signal,
      lookup,
    });
    expect(resolved).toMatchObject({ port: 65535, transport: 'tcp', family: 0, rejectUnauthorized: false, connectTimeout: 1 });
    expect(resolved.signal).toBe(signal);
    expect(resolved.lookup).toBe(lookup);
    expect(resolved.ca).toEqual([loopback.ca, Buffer.from(loopback.ca)]);
  });
});

describe('resolveTransportOptions: mistakes are ConfigurationErrors naming the option', () => {
  const base: TransportOptions = { host: 'h.invalid', port: 8883 };
  const cases: Array<[string, Partial<Record<keyof TransportOptions, unknown>>, string]> = [
    ['empty host', { host: '' }, 'host'],
    ['host not a string', { host: 42 }, 'host'],
    ['a URL as host', { host: 'mqtts://h.invalid:8883' }, 'host'],
    ['host:port', { host: 'h.invalid:8883' }, 'host'],
    ['IPv6 with a port in brackets', { host: '[::1]:8883' }, 'host'],
    ['brackets around a name', { host: '[h.invalid]' }, 'host'],
    ['unbalanced bracket', { host: '[::1' }, 'host'],
    ['white space in host', { host: 'h .invalid' }, 'host'],
    ['port 0', { port: 0 }, 'port'],
    ['port above 65535', { port: 65536 }, 'port'],
    ['fractional port', { port: 1.5 }, 'port'],
    ['port as string', { port: '8883' }, 'port'],
    ['unknown transport', { transport: 'mqtts' }, 'transport'],
    ['family 5', { family: 5 }, 'family'],
    ['family as string', { family: '6' }, 'family'],
    ['zero timeout', { connectTimeout: 0 }, 'connectTimeout'],
    ['negative timeout', { connectTimeout: -1 }, 'connectTimeout'],
    ['infinite timeout', { connectTimeout: Number.POSITIVE_INFINITY }, 'connectTimeout'],
    ['NaN timeout', { connectTimeout: Number.NaN }, 'connectTimeout'],
    ['timeout beyond what timers can hold', { connectTimeout: 2 ** 31 }, 'connectTimeout'],
    ['rejectUnauthorized as string', { rejectUnauthorized: 'false' }, 'rejectUnauthorized'],
    ['an IPv6 servername', { servername: '::1' }, 'servername'],
    ['a bracketed IPv6 servername', { servername: '[::1]' }, 'servername'],
    ['an IPv4 servername', { servername: '127.0.0.1' }, 'servername'],
    ['empty servername', { servername: '' }, 'servername'],
    ['a CA file path instead of its contents', { ca: 'certs/loopback/ca.pem' }, 'ca'],
    ['an empty CA list', { ca: [] }, 'ca'],
    ['a CA list with a non-PEM entry', { ca: [loopback.ca, 'nope'] }, 'ca'],
    ['a CA of the wrong type', { ca: 42 }, 'ca'],
    ['a signal that is not one', { signal: { aborted: false } }, 'signal'],
    ['a lookup that is not a function', { lookup: 'dns' }, 'lookup'],
  ];

  it.each(cases)('%s', (_label, change, field) => {
    const options = { ...base, ...change } as TransportOptions;
    let thrown: unknown;
    try {
      resolveTransportOptions(options);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(ConfigurationError);
    expect((thrown as ConfigurationError).field).toBe(field);
  });

  it('rejects a missing options object', () => {
    expect(() => resolveTransportOptions(undefined as unknown as TransportOptions)).toThrow(ConfigurationError);
  });

  it('openTransport rejects (rather than throws) and never resolves a name for bad options', async () => {
    const lookup = vi.fn();
    const attempt = openTransport({ host: 'h.invalid', port: 0, lookup });
    await expect(attempt).rejects.toBeInstanceOf(ConfigurationError);
    expect(lookup).not.toHaveBeenCalled();
  });
});
