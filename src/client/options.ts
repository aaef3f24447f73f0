/**
 * The client's options: flat, named plainly, validated before any I/O.
 */
import type { LookupFunction } from 'node:net';
import type { Duplex } from 'node:stream';
import type { TransportOptions } from '../transport/options.js';
import { ConfigurationError } from '../shared/errors.js';
import type { Will } from '../packet/types.js';
import type { BackoffPolicy } from './backoff.js';
import type { Clock } from '../shared/clock.js';
import { systemClock } from '../shared/clock.js';
import { openTransport } from '../transport/open.js';
import type { ConnackHint } from './errors.js';

export interface ReconnectOptions {
  /** Upper bound of the first delay, ms (default 1000). */
  readonly initialDelay?: number;
  /** Cap on any delay, ms (default 60000). */
  readonly maxDelay?: number;
  /** A connection that stays up this long (ms) resets the backoff (default 30000). */
  readonly resetAfter?: number;
}

/**
 * The socket options are the transport's own (`host`, `transport`, `family`, `ca`, `servername`,
 * `rejectUnauthorized`, `lookup`: see {@link TransportOptions}); `port`, `connectTimeout` and
 * `signal` mean more here and are described below.
 */
export interface MqttClientOptions extends Readonly<Omit<TransportOptions, 'port' | 'connectTimeout' | 'signal'>> {
  /** Default 8883 for TLS, 1883 for TCP (the platform uses 1883 with TLS: say so). */
  readonly port?: number;

  /** Client identifier; may be empty only with `clean: true` [MQTT-3.1.3-7]. */
  readonly clientId: string;
  readonly username?: string;
  /** Bytes, or a string sent as its UTF-8 bytes. */
  readonly password?: string | Uint8Array;
  /** Keep Alive in seconds, 0..65535 (default 60; 0 turns keepalive off). */
  readonly keepalive?: number;
  /** Clean Session (default true). With false, unacknowledged QoS 1 messages are re-sent on reconnect. */
  readonly clean?: boolean;
  /** A will message for the server to publish if the connection is lost. */
  readonly will?: Will;

  /** Milliseconds for one attempt: transport, TLS and CONNACK (default 30000). */
  readonly connectTimeout?: number;
  /** Milliseconds to wait for PINGRESP before declaring the connection dead (default 10000). */
  readonly pingTimeout?: number;
  /** Largest incoming packet accepted, bytes (default 1 MiB); a larger one is a protocol error. */
  readonly maxPacketSize?: number;
  /** Aborting it ends the client, as `end()` does. */
  readonly signal?: AbortSignal;

  /** Reconnect after a lost connection (default on). `false` turns it off. */
  readonly reconnect?: boolean | ReconnectOptions;
  /** Messages `publish` may hold while offline (default 1000); beyond that it rejects with `queue-full`. */
  readonly offlineQueueSize?: number;
  /**
   * What happens to a QoS 0 publish while offline: `'queue'` (default) holds it in the offline
   * queue and sends it on reconnect; `'reject'` rejects it at once with `connection-closed`.
   */
  readonly offlineQoS0?: 'queue' | 'reject';
  /** QoS 1 messages awaiting PUBACK at once (default 1000); further publishes wait for room. */
  readonly maxInflight?: number;
  /** Incoming messages buffered per async iterator before reading from the socket pauses (default 1000). */
  readonly messageBuffer?: number;

  /** How to read a CONNACK refusal; the platform profile supplies its own table. */
  readonly connackHint?: (returnCode: number) => ConnackHint | undefined;
  /**
   * Opens the byte stream for each connection (default `openTransport`: TLS or TCP, IPv6 first).
   * Replace it to go through a proxy or, in tests, to run the session over an in-memory stream.
   */
  readonly openSocket?: (options: TransportOptions) => Promise<Duplex>;
  /** Time source and timers (default real time); tests pass a virtual clock. */
  readonly clock?: Clock;
  /** Random numbers in [0, 1) for backoff jitter (default Math.random). */
  readonly random?: () => number;
}

/** The options after validation, with every default filled in. */
export interface ResolvedClientOptions {
  readonly host: string;
  readonly port: number;
  readonly transport: 'tls' | 'tcp';
  readonly family: 0 | 4 | 6;
  readonly ca: string | Buffer | Array<string | Buffer> | undefined;
  readonly servername: string | undefined;
  readonly rejectUnauthorized: boolean;
  readonly lookup: LookupFunction | undefined;
  readonly clientId: string;
  readonly username: string | undefined;
  readonly password: Uint8Array | undefined;
  readonly keepalive: number;
  readonly clean: boolean;
  readonly will: Will | undefined;
  readonly connectTimeout: number;
  readonly pingTimeout: number;
  readonly maxPacketSize: number;
  readonly signal: AbortSignal | undefined;
  readonly reconnect: BackoffPolicy | false;
  readonly offlineQueueSize: number;
  readonly offlineQoS0: 'queue' | 'reject';
  readonly maxInflight: number;
  readonly messageBuffer: number;
  readonly connackHint: ((returnCode: number) => ConnackHint | undefined) | undefined;
  readonly openSocket: (options: TransportOptions) => Promise<Duplex>;
  readonly clock: Clock;
  readonly random: () => number;
}

function integer(field: string, value: unknown, min: number, max: number, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new ConfigurationError(field, `expected an integer ${min}..${max}, got ${String(value)}`);
  }
  return value;
}

const MAX_TIMER = 2_147_483_647;

export function resolveClientOptions(options: MqttClientOptions): ResolvedClientOptions {
  if (typeof options !== 'object' || options === null) {
    throw new ConfigurationError('options', 'expected an object with at least host and clientId');
  }
  if (typeof options.host !== 'string' || options.host === '') {
    throw new ConfigurationError('host', 'expected a host name or IP address, e.g. "::1" or "example.com"');
  }
  const transport = options.transport ?? 'tls';
  if (transport !== 'tls' && transport !== 'tcp') {
    throw new ConfigurationError('transport', `expected 'tls' or 'tcp', got ${String(transport)}`);
  }
  if (typeof options.clientId !== 'string') {
    throw new ConfigurationError('clientId', 'expected a string (it may be empty only with clean: true)');
  }
  const clean = options.clean ?? true;
  if (typeof clean !== 'boolean') throw new ConfigurationError('clean', 'expected true or false');
  if (options.clientId === '' && !clean) {
    throw new ConfigurationError(
      'clientId',
      'an empty clientId needs clean: true, because the server cannot keep a session for an anonymous client [MQTT-3.1.3-7]',
    );
  }
  if (options.username !== undefined && typeof options.username !== 'string') {
    throw new ConfigurationError('username', 'expected a string');
  }
  let password: Uint8Array | undefined;
  if (options.password !== undefined) {
    if (typeof options.password === 'string') password = Buffer.from(options.password, 'utf8');
    else if (options.password instanceof Uint8Array) password = options.password;
    else throw new ConfigurationError('password', 'expected a string or a Uint8Array');
    if (options.username === undefined) {
      throw new ConfigurationError('password', 'a password needs a username as well [MQTT-3.1.2-22]');
    }
  }
  const family = options.family ?? 6;
  if (family !== 0 && family !== 4 && family !== 6) {
    throw new ConfigurationError('family', `expected 6, 4 or 0, got ${String(family)}`);
  }
  const reconnect = resolveReconnect(options.reconnect);
  const offlineQoS0 = options.offlineQoS0 ?? 'queue';
  if (offlineQoS0 !== 'queue' && offlineQoS0 !== 'reject') {
    throw new ConfigurationError('offlineQoS0', `expected 'queue' or 'reject', got ${String(offlineQoS0)}`);
  }
  const connackHint = options.connackHint;
  if (connackHint !== undefined && typeof connackHint !== 'function') {
    throw new ConfigurationError('connackHint', 'expected a function from return code to hint');
  }
  const random = options.random ?? Math.random;
  if (typeof random !== 'function') throw new ConfigurationError('random', 'expected a function returning [0, 1)');
  return {
    host: options.host,
    port: integer('port', options.port, 1, 65_535, transport === 'tls' ? 8883 : 1883),
    transport,
    family,
    ca: options.ca,
    servername: options.servername,
    rejectUnauthorized: options.rejectUnauthorized ?? true,
    lookup: options.lookup,
    clientId: options.clientId,
    username: options.username,
    password,
    keepalive: integer('keepalive', options.keepalive, 0, 65_535, 60),
    clean,
    will: options.will,
    connectTimeout: integer('connectTimeout', options.connectTimeout, 1, MAX_TIMER, 30_000),
    pingTimeout: integer('pingTimeout', options.pingTimeout, 1, MAX_TIMER, 10_000),
    maxPacketSize: integer('maxPacketSize', options.maxPacketSize, 16, 268_435_460, 1 << 20),
    signal: options.signal,
    reconnect,
    offlineQueueSize: integer('offlineQueueSize', options.offlineQueueSize, 0, 10_000_000, 1000),
    offlineQoS0,
    maxInflight: integer('maxInflight', options.maxInflight, 1, 65_535, 1000),
    messageBuffer: integer('messageBuffer', options.messageBuffer, 1, 10_000_000, 1000),
    connackHint,
    openSocket: resolveOpenSocket(options.openSocket),
    clock: options.clock ?? systemClock,
    random,
  };
}

function resolveReconnect(value: MqttClientOptions['reconnect']): BackoffPolicy | false {
  if (value === false) return false;
  const o: ReconnectOptions = value === undefined || value === true ? {} : value;
  if (typeof o !== 'object' || o === null) {
    throw new ConfigurationError('reconnect', 'expected true, false or { initialDelay, maxDelay, resetAfter }');
  }
  const initialDelay = integer('reconnect.initialDelay', o.initialDelay, 1, MAX_TIMER, 1000);
  const maxDelay = integer('reconnect.maxDelay', o.maxDelay, 1, MAX_TIMER, 60_000);
  if (maxDelay < initialDelay) {
    throw new ConfigurationError('reconnect.maxDelay', `must be at least initialDelay (${initialDelay})`);
  }
  return { initialDelay, maxDelay, resetAfter: integer('reconnect.resetAfter', o.resetAfter, 0, MAX_TIMER, 30_000) };
}

function resolveOpenSocket(value: MqttClientOptions['openSocket']): (options: TransportOptions) => Promise<Duplex> {
  if (value === undefined) return openTransport;
  if (typeof value !== 'function') {
    throw new ConfigurationError('openSocket', 'expected a function (options) => Promise<Duplex>');
  }
  return value;
}
