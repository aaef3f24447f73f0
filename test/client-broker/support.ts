/**
 * Helpers for the session's tests against a real mosquitto: client options for the private
 * broker, a socket spy that records the MQTT frames each connection carries, and waits on events
 * (never fixed sleeps) with a deadline that turns a hang into a clear failure.
 */
import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { MqttClient } from '../../src/client/index.js';
import type { MqttClientOptions } from '../../src/client/index.js';
import { openTransport } from '../../src/transport/index.js';
import type { TransportOptions } from '../../src/transport/index.js';
import { startMosquitto } from '../support/mosquitto.js';
import type { Broker, MosquittoOptions } from '../support/mosquitto.js';

/** How long any wait here may take before it fails the test: a safety net, not a sleep. */
export const WAIT_MS = 10_000;

let serial = 0;
/** A client id no other test of this run uses (mosquitto's sessions are keyed by it). */
export function uniqueId(prefix: string): string {
  serial += 1;
  return `${prefix}-${process.pid}-${serial}`;
}

/** Options for a client of `broker` over TLS on [::1] with the loopback CA. */
export function brokerOptions(broker: Broker, options: Partial<MqttClientOptions> = {}): MqttClientOptions {
  return {
    host: broker.host,
    port: broker.tlsPort,
    family: 6,
    ca: broker.ca,
    clientId: uniqueId('client'),
    reconnect: false,
    ...options,
  };
}

/** Clients made by `track` are ended (forcefully) by `endAll`, whatever the test did. */
export class ClientPool {
  private readonly clients: MqttClient[] = [];

  track(options: MqttClientOptions): MqttClient {
    const client = new MqttClient(options);
    this.clients.push(client);
    return client;
  }

  async endAll(): Promise<void> {
    const clients = this.clients.splice(0);
    await Promise.all(clients.map((c) => c.end({ force: true }).catch(() => undefined)));
  }
}

/** The broker of a suite and its clients. */
export interface BrokerSuite {
  /** The running broker (from `beforeAll` on). */
  readonly broker: Broker;
  /** Clients ended after each test. */
  readonly pool: ClientPool;
}

/**
 * Call inside a `describe`: starts one mosquitto for the suite (`options` may be computed then),
 * ends the pool's clients after each test and stops the broker at the end.
 */
export function useBroker(options: MosquittoOptions | (() => MosquittoOptions) = {}): BrokerSuite {
  let broker: Broker | undefined;
  const pool = new ClientPool();
  beforeAll(async () => {
    broker = await startMosquitto(typeof options === 'function' ? options() : options);
  });
  afterEach(() => pool.endAll());
  afterAll(() => broker?.stop());
  return {
    get broker(): Broker {
      if (broker === undefined) throw new Error('the broker starts in beforeAll');
      return broker;
    },
    pool,
  };
}

/**
 * Resolves with the arguments of the emitter's next `event`; rejects after `ms`. Unlike
 * `events.once` it does not listen to 'error' (which would also make the client report there).
 */
export function next<T extends unknown[] = unknown[]>(emitter: EventEmitter, event: string, ms: number = WAIT_MS): Promise<T> {
  return new Promise((resolve, reject) => {
    const listener = (...args: unknown[]): void => {
      clearTimeout(timer);
      resolve(args as T);
    };
    const timer = setTimeout(() => {
      emitter.off(event, listener);
      reject(new Error(`no '${event}' event within ${ms} ms`));
    }, ms);
    emitter.once(event, listener);
  });
}

/** Resolves once `condition()` holds, checking it whenever `emitter` emits `event`. */
export function until(emitter: EventEmitter, event: string, condition: () => boolean, ms: number = WAIT_MS): Promise<void> {
  return new Promise((resolve, reject) => {
    const check = (): void => {
      if (!condition()) return;
      clearTimeout(timer);
      emitter.off(event, check);
      resolve();
    };
    const timer = setTimeout(() => {
      emitter.off(event, check);
      reject(new Error(`condition not met within ${ms} ms (waiting on '${event}')`));
    }, ms);
    emitter.on(event, check);
    check();
  });
}

/**
 * Resolves once `pattern` appears in the broker's log. mosquitto has no event to wait on, so
 * this polls the log it has collected (every 10 ms) until the deadline.
 */
export async function logShows(broker: Broker, pattern: RegExp, ms: number = WAIT_MS): Promise<void> {
  const deadline = Date.now() + ms;
  while (!pattern.test(broker.log())) {
    if (Date.now() > deadline) throw new Error(`the broker never logged ${pattern}; its log:\n${broker.log()}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** One MQTT control packet as it crossed a socket, whole (fixed header included). */
export interface Frame {
  /** `Date.now()` when the chunk that completed it was written or read. */
  readonly at: number;
  /** Position among all the frames the spy saw, both directions, all connections. */
  readonly order: number;
  readonly bytes: Buffer;
}

/** The frames one connection carried, each direction in stream order. */
export interface SpiedConnection {
  readonly index: number;
  /** What the client wrote. */
  readonly sent: Frame[];
  /** What the client read. */
  readonly received: Frame[];
  closed: boolean;
}

/**
 * Splits a byte stream into MQTT frames by the fixed header alone (type byte, Remaining Length),
 * independent of the codec under test.
 */
class FrameSplitter {
  private pending = Buffer.alloc(0);

  push(chunk: Uint8Array, at: number, order: () => number): Frame[] {
    this.pending = Buffer.concat([this.pending, chunk]);
    const frames: Frame[] = [];
    for (;;) {
      let length = 0;
      let multiplier = 1;
      let i = 1;
      let complete = false;
      for (; i < this.pending.length && i <= 4; i++) {
        const byte = this.pending[i]!;
        length += (byte & 0x7f) * multiplier;
        multiplier *= 128;
        if ((byte & 0x80) === 0) {
          complete = true;
          break;
        }
      }
      if (!complete) return frames;
      const end = i + 1 + length;
      if (this.pending.length < end) return frames;
      frames.push({ at, order: order(), bytes: this.pending.subarray(0, end) });
      this.pending = this.pending.subarray(end);
    }
  }
}

export interface SpyEvents {
  frame: [direction: 'sent' | 'received', frame: Frame, connection: SpiedConnection];
  connection: [connection: SpiedConnection];
}

/**
 * Watches the bytes of every connection a client opens, above TLS (the plain MQTT stream), with
 * no help from NODE_DEBUG: pass `spy.openSocket` as the client's `openSocket`, or wrap another
 * opener with `spy.wrap`.
 */
export class SocketSpy extends EventEmitter<SpyEvents> {
  readonly connections: SpiedConnection[] = [];
  /** Sockets opened, successful or not (attempts that failed before a socket count too). */
  attempts = 0;
  private readonly sockets: Duplex[] = [];
  private frames = 0;
  private readonly count = (): number => this.frames++;

  constructor(private readonly open: (options: TransportOptions) => Promise<Duplex> = openTransport) {
    super();
  }

  readonly openSocket = (options: TransportOptions): Promise<Duplex> => {
    this.attempts += 1;
    return this.open(options).then(this.wrap);
  };

  readonly wrap = (socket: Duplex): Duplex => {
    const connection: SpiedConnection = { index: this.connections.length, sent: [], received: [], closed: false };
    this.connections.push(connection);
    this.sockets.push(socket);
    const outgoing = new FrameSplitter();
    const incoming = new FrameSplitter();
    const write = socket.write.bind(socket) as (...args: unknown[]) => boolean;
    socket.write = ((chunk: unknown, ...rest: unknown[]): boolean => {
      if (chunk instanceof Uint8Array) {
        for (const frame of outgoing.push(chunk, Date.now(), this.count)) this.record('sent', frame, connection);
      }
      return write(chunk, ...rest);
    }) as typeof socket.write;
    // Added before the client's own listener (the client adds its listener in the same tick).
    socket.on('data', (chunk: Buffer) => {
      for (const frame of incoming.push(chunk, Date.now(), this.count)) this.record('received', frame, connection);
    });
    socket.once('close', () => {
      connection.closed = true;
    });
    this.emit('connection', connection);
    return socket;
  };

  /** The socket of a connection, to break it from the client's side. */
  socket(connection: SpiedConnection): Duplex {
    return this.sockets[connection.index]!;
  }

  /** Every frame of one direction, over all connections, in order. */
  all(direction: 'sent' | 'received'): Frame[] {
    return this.connections.flatMap((c) => c[direction]);
  }

  /** Resolves with the next frame (from now on) of `direction` that `match` accepts. */
  nextFrame(direction: 'sent' | 'received', match: (frame: Frame) => boolean, ms: number = WAIT_MS): Promise<Frame> {
    return new Promise((resolve, reject) => {
      const onFrame = (d: 'sent' | 'received', frame: Frame): void => {
        if (d !== direction || !match(frame)) return;
        clearTimeout(timer);
        this.off('frame', onFrame);
        resolve(frame);
      };
      const timer = setTimeout(() => {
        this.off('frame', onFrame);
        reject(new Error(`no matching ${direction} frame within ${ms} ms`));
      }, ms);
      this.on('frame', onFrame);
    });
  }

  private record(direction: 'sent' | 'received', frame: Frame, connection: SpiedConnection): void {
    connection[direction].push(frame);
    this.emit('frame', direction, frame, connection);
  }
}

/** Control packet type, from the first byte of a frame. */
export const packetType = (frame: Frame): number => frame.bytes[0]! >> 4;
export const PINGREQ = Buffer.from([0xc0, 0x00]);
export const PINGRESP = Buffer.from([0xd0, 0x00]);
export const DISCONNECT = Buffer.from([0xe0, 0x00]);
export const isFrame = (bytes: Buffer) => (frame: Frame): boolean => frame.bytes.equals(bytes);

/** The fields of a PUBLISH frame that the tests look at, decoded by hand. */
export interface PublishFields {
  readonly dup: boolean;
  readonly qos: number;
  readonly retain: boolean;
  readonly topic: string;
  readonly packetId: number | undefined;
  readonly payload: Buffer;
}

export function parsePublish(frame: Frame): PublishFields {
  const bytes = frame.bytes;
  const first = bytes[0]!;
  if (first >> 4 !== 3) throw new Error(`not a PUBLISH: first byte 0x${first.toString(16)}`);
  let offset = 1;
  while ((bytes[offset]! & 0x80) !== 0) offset++;
  offset++;
  const topicLength = bytes.readUInt16BE(offset);
  const topic = bytes.toString('utf8', offset + 2, offset + 2 + topicLength);
  offset += 2 + topicLength;
  const qos = (first >> 1) & 3;
  let packetId: number | undefined;
  if (qos > 0) {
    packetId = bytes.readUInt16BE(offset);
    offset += 2;
  }
  return { dup: (first & 8) !== 0, qos, retain: (first & 1) !== 0, topic, packetId, payload: bytes.subarray(offset) };
}

