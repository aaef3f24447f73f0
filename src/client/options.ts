/**
 * The client's options: flat, named plainly, validated once, before any I/O.
 *
 * The socket options are the transport's own: they are resolved by the transport's resolver and
 * kept, resolved, in `socket`; nothing here re-declares or re-checks them. Everything that goes
 * into CONNECT (client id, user name, password, will) is checked against MQTT's rules here, so
 * that a bad value is a ConfigurationError at construction, not an encoding error on the wire.
 */
import type { Duplex } from 'node:stream';
import type { ConnectPacket, QoS, Will } from '../packet/types.js';
import { encodedLength } from '../packet/codec.js';
import { MqttProtocolError } from '../packet/errors.js';
import { MAX_PACKET_SIZE } from '../packet/decoder.js';
import type { Clock } from '../shared/clock.js';
import { isClock, systemClock } from '../shared/clock.js';
import { ConfigurationError, refuseUnknownOptions } from '../shared/errors.js';
import { describeValue } from '../shared/validate.js';
import type { OutboxStore } from '../store/types.js';
import { openResolvedTransport } from '../transport/open.js';
import { resolveTransportOptions } from '../transport/options.js';
import type { ResolvedTransportOptions, TransportOptions } from '../transport/options.js';
import type { BackoffPolicy } from './backoff.js';
import type { ConnackHint } from './errors.js';

export interface ReconnectOptions {
  /** Upper bound of the first delay, ms (default 1000). */
  readonly initialDelay?: number;
  /** Cap on any delay, ms (default 60000). */
  readonly maxDelay?: number;
  /** A connection that stays up this long (ms) resets the backoff (default 30000). */
  readonly resetAfter?: number;
}

/** The will message: what the server publishes for the client if its connection is lost. */
export interface WillOptions {
  readonly topic: string;
  /** Bytes, or a string sent as its UTF-8 bytes. */
  readonly payload: Uint8Array | string;
  /** 0 (default), 1 or 2. */
  readonly qos?: QoS;
  /** Default false. */
  readonly retain?: boolean;
}

/** Opens the byte stream of one connection attempt. */
export type OpenSocket = (options: ResolvedTransportOptions) => Promise<Duplex>;

/**
 * The socket options are the transport's own (`host`, `transport`, `family`, `ca`, `servername`,
 * `rejectUnauthorized`, `lookup`, and a client certificate as `cert` and `key` with `passphrase`,
 * or `pfx`: see {@link TransportOptions}); `port`, `connectTimeout` and `signal` mean more here
 * and are described below. A client certificate is checked at construction (it parses, the key
 * is its key, it is within its dates, it may authenticate a client) and its key, passphrase and
 * pfx are never shown: `options.socket` holds its public facts and an opaque TLS context.
 */
export interface MqttClientOptions
  extends Readonly<Omit<TransportOptions, 'port' | 'connectTimeout' | 'signal' | 'clock' | 'secureContext' | 'clientCertificate'>> {
  /** Default 8883 for TLS, 1883 for TCP (the platform uses 1883 with TLS: say so). */
  readonly port?: number;

  /** Client identifier; may be empty only with `clean: true` [MQTT-3.1.3-7]. */
  readonly clientId: string;
  readonly username?: string;
  /** Bytes, or a string sent as its UTF-8 bytes. Never shown by `inspect`, logs or errors. */
  readonly password?: string | Uint8Array;
  /** Keep Alive in seconds, 0..65535 (default 60; 0 turns keepalive off). */
  readonly keepalive?: number;
  /** Clean Session (default true). With false, unacknowledged QoS 1 messages are re-sent on reconnect. */
  readonly clean?: boolean;
  /** A will message for the server to publish if the connection is lost. */
  readonly will?: WillOptions;

  /** Milliseconds for one attempt: transport, TLS and CONNACK (default 30000). */
  readonly connectTimeout?: number;
  /** Milliseconds to wait for PINGRESP before declaring the connection dead (default 10000). */
  readonly pingTimeout?: number;
  /** Largest incoming packet accepted, bytes (default 1 MiB); a larger one is a protocol error. */
  readonly maxPacketSize?: number;
  /**
   * Largest packet the client sends, bytes (default: MQTT's own limit, 268,435,460). A larger
   * publish is refused at once with `packet-too-large`, before anything is sent; a server that
   * enforces its own limit closes the connection instead. The platform profile sets 256 KB.
   */
  readonly maxOutgoingPacketSize?: number;
  /** Aborting it ends the client, as `end()` does. */
  readonly signal?: AbortSignal;

  /** Reconnect after a lost connection (default on). `false` turns it off. */
  readonly reconnect?: boolean | ReconnectOptions;
  /**
   * Messages `publish` accepts while the client is not connected (default 1000): a publish made
   * while offline is refused with `queue-full` when this many wait already. While connected the
   * limit is `maxQueuedBytes`.
   */
  readonly offlineQueueSize?: number;
  /**
   * Bytes of messages (topic and payload) waiting to be sent, in any state (default 16 MiB):
   * publishes waiting for in-flight room, for a saturated socket to drain, or for a connection.
   * Beyond it `publish` refuses with `queue-full`.
   */
  readonly maxQueuedBytes?: number;
  /**
   * What happens to a QoS 0 publish while offline: `'queue'` (default) holds it in the offline
   * queue and sends it on reconnect; `'reject'` rejects it at once with `connection-closed`.
   */
  readonly offlineQoS0?: 'queue' | 'reject';
  /** QoS 1 messages awaiting PUBACK at once (default 1000); further publishes wait for room. */
  readonly maxInflight?: number;
  /** Incoming messages buffered per async iterator before reading from the socket pauses (default 1000). */
  readonly messageBuffer?: number;
  /**
   * Where accepted QoS 1 messages are kept until acknowledged (default: memory, which dies with
   * the process). With a durable store such as `fileStore(directory)`, a QoS 1 message whose
   * `publish` has returned survives the process once the tick has ended, and the next process on
   * the same store and client id sends it first (see `restoredCount` and the `restored` event).
   * QoS 0 messages are never stored; `end()` leaves unacknowledged messages in the store.
   */
  readonly store?: OutboxStore;

  /** How to read a CONNACK refusal; the platform profile supplies its own table. */
  readonly connackHint?: (returnCode: number) => ConnackHint | undefined;
  /**
   * Opens the byte stream for each connection (default: the transport, TLS or TCP, IPv6 first).
   * It gets the resolved socket options and the attempt's `signal`. Replace it to go through a
   * proxy or, in tests, to run the session over an in-memory stream.
   */
  readonly openSocket?: OpenSocket;
  /** Time source and timers (default real time); tests pass a virtual clock. */
  readonly clock?: Clock;
  /** Random numbers in [0, 1) for backoff jitter (default Math.random). */
  readonly random?: () => number;
}

/** The options after validation, with every default filled in. The password is kept apart. */
export interface ResolvedClientOptions {
  /** The transport's own resolved options (host without brackets, port, TLS settings, timeout, clock). */
  readonly socket: ResolvedTransportOptions;
  readonly clientId: string;
  readonly username: string | undefined;
  readonly keepalive: number;
  readonly clean: boolean;
  readonly will: Will | undefined;
  readonly pingTimeout: number;
  readonly maxPacketSize: number;
  readonly maxOutgoingPacketSize: number;
  readonly signal: AbortSignal | undefined;
  readonly reconnect: BackoffPolicy | false;
  readonly offlineQueueSize: number;
  readonly maxQueuedBytes: number;
  readonly offlineQoS0: 'queue' | 'reject';
  readonly maxInflight: number;
  readonly messageBuffer: number;
  readonly store: OutboxStore | undefined;
  readonly connackHint: ((returnCode: number) => ConnackHint | undefined) | undefined;
  readonly openSocket: OpenSocket;
  readonly clock: Clock;
  readonly random: () => number;
}

const KNOWN = new Set([
  'host', 'port', 'transport', 'family', 'ca', 'servername', 'rejectUnauthorized', 'lookup',
  'cert', 'key', 'passphrase', 'pfx',
  'clientId', 'username', 'password', 'keepalive', 'clean', 'will',
  'connectTimeout', 'pingTimeout', 'maxPacketSize', 'maxOutgoingPacketSize', 'signal',
  'reconnect', 'offlineQueueSize', 'maxQueuedBytes', 'offlineQoS0', 'maxInflight', 'messageBuffer', 'store',
  'connackHint', 'openSocket', 'clock', 'random',
]);

/** Names other MQTT libraries (MQTT.js above all) use for these options. */
const ALIASES: Readonly<Record<string, string>> = {
  keepAlive: 'keepalive',
  reconnectPeriod: 'reconnect: { initialDelay } (ms), or reconnect: false',
  connectTimeoutMs: 'connectTimeout',
  clientID: 'clientId',
  hostname: 'host',
  protocol: "transport ('tls' or 'tcp')",
  clean_session: 'clean',
  cleanSession: 'clean',
  queueQoSZero: "offlineQoS0 ('queue' or 'reject')",
  protocolVersion: 'nothing: this client speaks MQTT 3.1.1 only',
  url: 'host and port (this client takes no URL)',
  user: 'username',
  pass: 'password',
  keepaliveInterval: 'keepalive',
  certificate: 'cert',
  clientCert: 'cert',
  certFile: "cert (the PEM text, e.g. readFileSync(path), not the path)",
  privateKey: 'key',
  clientKey: 'key',
  keyFile: "key (the PEM text, e.g. readFileSync(path), not the path)",
  keyPassphrase: 'passphrase',
  pkcs12: 'pfx',
  p12: 'pfx',
};

/** setTimeout treats anything larger as 1 ms, which would turn a generous timeout into none. */
const MAX_TIMER = 2_147_483_647;
/** The largest frame MQTT 3.1.1 can describe: 268,435,455 bytes of body and a 5-byte header. */
const MAX_FRAME = 268_435_460;

function integer(field: string, value: unknown, min: number, max: number, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new ConfigurationError(field, `expected an integer ${min}..${max}, got ${describeValue(value)}`);
  }
  return value;
}

function oneOf<T>(field: string, value: unknown, allowed: readonly T[], fallback: T): T {
  if (value === undefined) return fallback;
  const match = allowed.find((candidate) => candidate === value);
  if (match === undefined) {
    throw new ConfigurationError(field, `expected ${allowed.map((a) => JSON.stringify(a)).join(' or ')}, got ${describeValue(value)}`);
  }
  return match;
}

function fn<T>(field: string, value: unknown, what: string): T | undefined {
  if (value !== undefined && typeof value !== 'function') throw new ConfigurationError(field, `expected ${what}`);
  return value as T | undefined;
}

/** Bytes as given, or a string's UTF-8 bytes; `undefined` when absent. */
function bytes(field: string, value: unknown): Uint8Array | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'string') return Buffer.from(value, 'utf8');
  if (value instanceof Uint8Array) return value;
  throw new ConfigurationError(field, `expected a string or a Uint8Array (Buffer), got ${describeValue(value)}`);
}

/**
 * Runs the codec's own check of a CONNECT field and turns its MqttProtocolError into a
 * ConfigurationError naming the option: the rule is the wire format's, the mistake the caller's.
 */
function wireRule(field: string, check: () => void): void {
  try {
    check();
  } catch (error) {
    if (!(error instanceof MqttProtocolError)) throw error;
    // The codec's message names the packet field, never a value (a password is counted, not shown).
    throw new ConfigurationError(field, `cannot go into CONNECT: ${error.message}`);
  }
}

export interface ResolvedIdentity {
  readonly options: ResolvedClientOptions;
  /** Kept apart from the options, which are visible on the client. */
  readonly password: Uint8Array | undefined;
}

export function resolveClientOptions(options: MqttClientOptions): ResolvedIdentity {
  if (typeof options !== 'object' || options === null) {
    throw new ConfigurationError('options', 'expected an object with at least host and clientId');
  }
  refuseUnknownOptions(options, KNOWN, 'MqttClient', ALIASES);
  const transport = oneOf('transport', options.transport, ['tls', 'tcp'] as const, 'tls');
  const clock = options.clock ?? systemClock;
  if (!isClock(clock)) throw new ConfigurationError('clock', 'expected an object with now(), setTimeout(callback, ms) and clearTimeout(handle)');
  const socket = resolveTransportOptions({
    host: options.host,
    port: integer('port', options.port, 1, 65_535, transport === 'tls' ? 8883 : 1883),
    transport,
    ...(options.family === undefined ? {} : { family: options.family }),
    ...(options.ca === undefined ? {} : { ca: options.ca }),
    ...(options.servername === undefined ? {} : { servername: options.servername }),
    ...(options.rejectUnauthorized === undefined ? {} : { rejectUnauthorized: options.rejectUnauthorized }),
    ...(options.lookup === undefined ? {} : { lookup: options.lookup }),
    ...(options.cert === undefined ? {} : { cert: options.cert }),
    ...(options.key === undefined ? {} : { key: options.key }),
    ...(options.passphrase === undefined ? {} : { passphrase: options.passphrase }),
    ...(options.pfx === undefined ? {} : { pfx: options.pfx }),
    connectTimeout: integer('connectTimeout', options.connectTimeout, 1, MAX_TIMER, 30_000),
    clock,
  });

  if (typeof options.clientId !== 'string') {
    throw new ConfigurationError('clientId', `expected a string (it may be empty only with clean: true), got ${describeValue(options.clientId)}`);
  }
  const clean = options.clean ?? true;
  if (typeof clean !== 'boolean') throw new ConfigurationError('clean', `expected true or false, got ${describeValue(clean)}`);
  if (options.clientId === '' && !clean) {
    throw new ConfigurationError(
      'clientId',
      'an empty clientId needs clean: true, because the server cannot keep a session for an anonymous client [MQTT-3.1.3-7]',
    );
  }
  if (options.username !== undefined && typeof options.username !== 'string') {
    throw new ConfigurationError('username', `expected a string, got ${describeValue(options.username)}`);
  }
  const password = bytes('password', options.password);
  if (password !== undefined && options.username === undefined) {
    throw new ConfigurationError('password', 'a password needs a username as well [MQTT-3.1.2-22]');
  }
  const keepalive = integer('keepalive', options.keepalive, 0, 65_535, 60);
  const will = resolveWill(options.will);
  const connect: ConnectPacket = { type: 'connect', clientId: options.clientId, keepalive, clean, username: options.username, password, will };
  checkConnect(connect);

  const maxPacketSize = integer('maxPacketSize', options.maxPacketSize, 16, MAX_PACKET_SIZE, 1 << 20);
  const resolved: ResolvedClientOptions = {
    socket,
    clientId: options.clientId,
    username: options.username,
    keepalive,
    clean,
    will,
    pingTimeout: integer('pingTimeout', options.pingTimeout, 1, MAX_TIMER, 10_000),
    maxPacketSize,
    maxOutgoingPacketSize: integer('maxOutgoingPacketSize', options.maxOutgoingPacketSize, 16, MAX_FRAME, MAX_FRAME),
    signal: resolveSignal(options.signal),
    reconnect: resolveReconnect(options.reconnect),
    offlineQueueSize: integer('offlineQueueSize', options.offlineQueueSize, 0, 10_000_000, 1000),
    maxQueuedBytes: integer('maxQueuedBytes', options.maxQueuedBytes, 0, Number.MAX_SAFE_INTEGER, 16 << 20),
    offlineQoS0: oneOf('offlineQoS0', options.offlineQoS0, ['queue', 'reject'] as const, 'queue'),
    maxInflight: integer('maxInflight', options.maxInflight, 1, 65_535, 1000),
    messageBuffer: integer('messageBuffer', options.messageBuffer, 1, 10_000_000, 1000),
    store: resolveStore(options.store),
    connackHint: fn('connackHint', options.connackHint, 'a function from return code to hint'),
    openSocket: fn<OpenSocket>('openSocket', options.openSocket, 'a function (options) => Promise<Duplex>') ?? openResolvedTransport,
    clock,
    random: fn<() => number>('random', options.random, 'a function returning [0, 1)') ?? Math.random,
  };
  return { options: resolved, password };
}

/** Every CONNECT field against the wire format's rules [MQTT-1.5.3-1/-2, MQTT-3.1.3-*]. */
function checkConnect(connect: ConnectPacket): void {
  wireRule('clientId', () => encodedLength({ ...connect, username: undefined, password: undefined, will: undefined }));
  if (connect.username !== undefined) wireRule('username', () => encodedLength({ ...connect, password: undefined, will: undefined }));
  if (connect.password !== undefined) wireRule('password', () => encodedLength({ ...connect, will: undefined }));
  if (connect.will !== undefined) wireRule('will', () => encodedLength(connect));
}

function resolveWill(value: MqttClientOptions['will']): Will | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null) {
    throw new ConfigurationError('will', 'expected { topic, payload, qos?, retain? }');
  }
  refuseUnknownOptions(value, new Set(['topic', 'payload', 'qos', 'retain']), 'will');
  if (typeof value.topic !== 'string') throw new ConfigurationError('will.topic', `expected a topic name, got ${describeValue(value.topic)}`);
  const payload = bytes('will.payload', value.payload);
  if (payload === undefined) throw new ConfigurationError('will.payload', 'expected a string or a Uint8Array (Buffer); use an empty string for no content');
  const qos = oneOf('will.qos', value.qos, [0, 1, 2] as const, 0);
  const retain = value.retain ?? false;
  if (typeof retain !== 'boolean') throw new ConfigurationError('will.retain', `expected true or false, got ${describeValue(retain)}`);
  return { topic: value.topic, payload, qos, retain };
}

function resolveSignal(signal: unknown): AbortSignal | undefined {
  if (signal === undefined) return undefined;
  const s = signal as AbortSignal;
  if (typeof s !== 'object' || s === null || typeof s.aborted !== 'boolean' || typeof s.addEventListener !== 'function') {
    throw new ConfigurationError('signal', 'expected an AbortSignal (e.g. AbortSignal.timeout(ms) or controller.signal)');
  }
  return s;
}

function resolveStore(store: unknown): OutboxStore | undefined {
  if (store === undefined) return undefined;
  const s = store as OutboxStore;
  const members = ['open', 'add', 'sent', 'acknowledged', 'close'] as const;
  if (typeof s !== 'object' || s === null || members.some((m) => typeof s[m] !== 'function')) {
    throw new ConfigurationError('store', `expected an outbox store (such as fileStore(directory)) with ${members.join(', ')}`);
  }
  return s;
}

function resolveReconnect(value: MqttClientOptions['reconnect']): BackoffPolicy | false {
  if (value === false) return false;
  const o: ReconnectOptions = value === undefined || value === true ? {} : value;
  if (typeof o !== 'object' || o === null) {
    throw new ConfigurationError('reconnect', 'expected true, false or { initialDelay, maxDelay, resetAfter }');
  }
  refuseUnknownOptions(o, new Set(['initialDelay', 'maxDelay', 'resetAfter']), 'reconnect');
  const initialDelay = integer('reconnect.initialDelay', o.initialDelay, 1, MAX_TIMER, 1000);
  const maxDelay = integer('reconnect.maxDelay', o.maxDelay, 1, MAX_TIMER, 60_000);
  if (maxDelay < initialDelay) {
    throw new ConfigurationError('reconnect.maxDelay', `must be at least initialDelay (${initialDelay})`);
  }
  return { initialDelay, maxDelay, resetAfter: integer('reconnect.resetAfter', o.resetAfter, 0, MAX_TIMER, 30_000) };
}
