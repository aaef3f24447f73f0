/**
 * An in-memory MQTT server for the session's unit tests: it hands the client one end of a duplex
 * pair through `openSocket`, decodes what the client sends, and lets the test script every reply
 * (or the lack of one), byte for byte when it wants to break the protocol.
 *
 *   const server = new FakeServer({ clock });
 *   const client = new MqttClient({ host: '::1', clientId: 'c', clock, openSocket: server.openSocket });
 *   void client.connect();
 *   await server.next('connect');
 *   server.send({ type: 'connack', sessionPresent: false, returnCode: 0 });
 *
 * Nothing here sleeps: `next` resolves on the packet's arrival (a real-time limit only turns a
 * hung test into a clear failure).
 */
import { Duplex } from 'node:stream';
import type { Clock } from '../../src/shared/clock.js';
import { encode } from '../../src/packet/codec.js';
import { PacketDecoder } from '../../src/packet/decoder.js';
import type { Packet, PacketOf, PacketType } from '../../src/packet/types.js';
import type { TransportOptions } from '../../src/transport/options.js';

/** How long `next` waits for a packet before failing the test: a safety net, not a sleep. */
const WAIT_MS = 5_000;

export interface DuplexPairOptions {
  /**
   * Buffer limit of each direction, bytes (default 16 KiB): a writer whose reader has stopped
   * reading sees `write()` return false once this much is waiting, as over TCP.
   */
  readonly highWaterMark?: number;
}

/**
 * One end of an in-memory byte pipe (Node 20 has no `stream.duplexPair`). What one end writes the
 * other reads, chunk for chunk. A write is held (backpressure) while the reading end's buffer is
 * full, and released as the reader reads. Ending one end is the reader's end of stream (both ends
 * close once both directions have ended); destroying one end destroys the other, like a reset.
 */
export class PipeEnd extends Duplex {
  /** Chunks written into this end (calls that reached `_write`): each arrives as one chunk. */
  writes = 0;
  /** Bytes written into this end. */
  bytesWritten = 0;
  #peer: PipeEnd | undefined;
  /** The peer's write callback, held until this end's reader asks for more. */
  #heldWrite: (() => void) | undefined;

  constructor(highWaterMark: number) {
    super({ allowHalfOpen: false, highWaterMark });
  }

  static pair(options: DuplexPairOptions = {}): [PipeEnd, PipeEnd] {
    const hwm = options.highWaterMark ?? 16 * 1024;
    const a = new PipeEnd(hwm);
    const b = new PipeEnd(hwm);
    a.#peer = b;
    b.#peer = a;
    return [a, b];
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.writes++;
    this.bytesWritten += chunk.length;
    const peer = this.#peer!;
    if (peer.destroyed || peer.readableEnded) {
      callback(); // the bytes go nowhere, as on a socket whose peer has gone
      return;
    }
    if (peer.push(chunk)) callback();
    else peer.#heldWrite = callback;
  }

  override _read(): void {
    const held = this.#heldWrite;
    if (held !== undefined) {
      this.#heldWrite = undefined;
      held();
    }
  }

  override _final(callback: (error?: Error | null) => void): void {
    const peer = this.#peer!;
    if (!peer.destroyed) peer.push(null);
    callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    const peer = this.#peer!;
    if (!peer.destroyed) peer.destroy();
    callback(error);
  }
}

/** In-memory duplex pair: `[a, b]`, what `a` writes `b` reads and the other way round. */
export function duplexPair(options: DuplexPairOptions = {}): [PipeEnd, PipeEnd] {
  return PipeEnd.pair(options);
}

/** A packet the server received, with the virtual time it arrived. */
export interface Received {
  readonly packet: Packet;
  readonly at: number;
}

interface Waiter {
  readonly type: PacketType;
  readonly resolve: (packet: Packet) => void;
  readonly reject: (error: Error) => void;
  readonly timer: ReturnType<typeof setTimeout>;
}

/** One connection the client opened: the server's end of it. */
export class ServerConnection {
  /** Every packet received, in order, with its arrival time (unless the server keeps none). */
  readonly log: Received[] = [];
  /** Packets not yet taken by `next`, oldest first. */
  readonly unread: Packet[] = [];
  /** Packets received (counted even when not kept). */
  count = 0;
  /** Resolves once both ends have closed. */
  readonly closed: Promise<void>;
  /** Why decoding the client's bytes failed, if it did (a client bug the test should see). */
  decodeError: Error | undefined;
  #isClosed = false;
  #stalled = false;
  #waiters: Waiter[] = [];
  readonly #decoder = new PacketDecoder();

  constructor(
    readonly server: FakeServer,
    /** 1 for the first connection. */
    readonly index: number,
    /** The server's end. */
    readonly socket: PipeEnd,
    /** The end handed to the client. */
    readonly clientEnd: PipeEnd,
    /** What the client passed to `openSocket`. */
    readonly options: TransportOptions,
  ) {
    socket.on('error', () => {});
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    this.closed = new Promise((resolve) => {
      const done = (): void => {
        if (this.#isClosed) return;
        this.#isClosed = true;
        this.#failWaiters(new Error(`connection ${index} closed; unread: ${this.#describeUnread()}`));
        resolve();
      };
      // Both ends close together (see PipeEnd); whichever reports first counts.
      socket.once('close', done);
      clientEnd.once('close', done);
    });
  }

  get isClosed(): boolean {
    return this.#isClosed;
  }

  get stalled(): boolean {
    return this.#stalled;
  }

  /** Chunks the client wrote on this connection (one per `write` call). */
  get clientWrites(): number {
    return this.clientEnd.writes;
  }

  /** Received packets of `type`, in order (kept packets only). */
  packets<T extends PacketType>(type: T): Array<PacketOf<T>> {
    return this.log.filter((r) => r.packet.type === type).map((r) => r.packet as PacketOf<T>);
  }

  /** The first unread packet of `type`, waiting for it if none has come; other packets stay unread. */
  next<T extends PacketType>(type: T, timeoutMs = WAIT_MS): Promise<PacketOf<T>> {
    const index = this.unread.findIndex((p) => p.type === type);
    if (index >= 0) return Promise.resolve(this.unread.splice(index, 1)[0] as PacketOf<T>);
    if (this.decodeError !== undefined) return Promise.reject(this.decodeError);
    if (this.#isClosed) {
      return Promise.reject(new Error(`connection ${this.index} closed before a ${type}; unread: ${this.#describeUnread()}`));
    }
    return new Promise<PacketOf<T>>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w.timer !== timer);
        reject(new Error(`no ${type} on connection ${this.index} within ${timeoutMs} ms; unread: ${this.#describeUnread()}`));
      }, timeoutMs);
      timer.unref();
      this.#waiters.push({ type, resolve: resolve as (packet: Packet) => void, reject, timer });
    });
  }

  send(packet: Packet): void {
    this.sendBytes(encode(packet));
  }

  sendBytes(bytes: Uint8Array): void {
    if (this.socket.destroyed || this.socket.writableEnded) return;
    this.socket.write(bytes);
  }

  /** Closes the connection cleanly (the client reads what was sent, then end of stream). */
  close(): void {
    this.resume();
    if (!this.socket.writableEnded) this.socket.end();
  }

  /** Drops the connection at once, like a reset: bytes not yet read are lost. */
  destroy(): void {
    this.socket.destroy();
  }

  /** Stops reading (the client's writes back up once the buffer is full) and so stops answering. */
  stall(): void {
    this.#stalled = true;
    this.socket.pause();
  }

  resume(): void {
    if (!this.#stalled) return;
    this.#stalled = false;
    this.socket.resume();
  }

  #onData(chunk: Buffer): void {
    let packets: Packet[];
    try {
      packets = this.#decoder.push(chunk);
    } catch (error) {
      this.decodeError = error as Error;
      this.#failWaiters(this.decodeError);
      return;
    }
    const at = this.server.clock?.now() ?? Number.NaN;
    for (const packet of packets) {
      this.count++;
      if (this.server.keepPackets) this.log.push({ packet, at });
      this.server.handle(packet, this);
      const waiter = this.#waiters.find((w) => w.type === packet.type);
      if (waiter !== undefined) {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        clearTimeout(waiter.timer);
        waiter.resolve(packet);
      } else if (this.server.keepPackets) {
        this.unread.push(packet);
      }
    }
  }

  #failWaiters(error: Error): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) {
      clearTimeout(w.timer);
      w.reject(error);
    }
  }

  #describeUnread(): string {
    return this.unread.length === 0 ? 'none' : this.unread.map((p) => p.type).join(', ');
  }
}

export interface FakeServerOptions {
  /** Stamps each received packet with this clock's time (for keepalive gaps). */
  readonly clock?: Clock;
  /** Buffer limit of each direction of each connection (see DuplexPairOptions). */
  readonly highWaterMark?: number;
  /** Keep received packets in `log`/`unread` (default true); false only counts them. */
  readonly keepPackets?: boolean;
}

/** A reply the server makes without the test scripting it. */
export type AutoReply = (packet: Packet, connection: ServerConnection) => void;

/** Hands out in-memory connections through `openSocket` and records what happens on them. */
export class FakeServer {
  readonly clock: Clock | undefined;
  readonly keepPackets: boolean;
  readonly connections: ServerConnection[] = [];
  /** Every call of `openSocket`, the failed ones included. */
  readonly opens: TransportOptions[] = [];
  readonly #highWaterMark: number | undefined;
  #failures: Error[] = [];
  #failAlways: Error | undefined;
  #replies: AutoReply[] = [];
  #connectionWaiters: Array<{ index: number; resolve: (c: ServerConnection) => void }> = [];

  constructor(options: FakeServerOptions = {}) {
    this.clock = options.clock;
    this.keepPackets = options.keepPackets ?? true;
    this.#highWaterMark = options.highWaterMark;
  }

  /** Pass as the client's `openSocket` option. */
  readonly openSocket = (options: TransportOptions): Promise<Duplex> => {
    this.opens.push(options);
    const failure = this.#failures.shift() ?? this.#failAlways;
    if (failure !== undefined) return Promise.reject(failure);
    const [clientEnd, serverEnd] = duplexPair(
      this.#highWaterMark === undefined ? {} : { highWaterMark: this.#highWaterMark },
    );
    const connection = new ServerConnection(this, this.connections.length + 1, serverEnd, clientEnd, options);
    this.connections.push(connection);
    const ready = this.#connectionWaiters.filter((w) => w.index <= this.connections.length);
    this.#connectionWaiters = this.#connectionWaiters.filter((w) => w.index > this.connections.length);
    for (const w of ready) w.resolve(this.connections[w.index - 1]!);
    return Promise.resolve(clientEnd);
  };

  /** Connections opened so far. */
  get connectionCount(): number {
    return this.connections.length;
  }

  /** The latest connection. */
  get current(): ServerConnection | undefined {
    return this.connections[this.connections.length - 1];
  }

  /** The `index`-th connection (1-based), waiting for it to be opened. */
  connection(index: number): Promise<ServerConnection> {
    const existing = this.connections[index - 1];
    if (existing !== undefined) return Promise.resolve(existing);
    return new Promise((resolve) => this.#connectionWaiters.push({ index, resolve }));
  }

  /** The next `times` calls of `openSocket` reject with `error`. */
  failOpen(error: Error, times = 1): void {
    for (let i = 0; i < times; i++) this.#failures.push(error);
  }

  /** Every call of `openSocket` rejects with `error` until called again with `undefined`. */
  failAllOpens(error: Error | undefined): void {
    this.#failAlways = error;
  }

  /** Adds an automatic reply, run for every packet received on any connection. */
  reply(handler: AutoReply): void {
    this.#replies.push(handler);
  }

  /** Answers every CONNECT with this CONNACK (or what the function returns for the n-th connection). */
  autoConnack(connack: PacketOf<'connack'> | ((connection: ServerConnection) => PacketOf<'connack'> | undefined)): void {
    this.reply((packet, connection) => {
      if (packet.type !== 'connect') return;
      const answer = typeof connack === 'function' ? connack(connection) : connack;
      if (answer !== undefined) connection.send(answer);
    });
  }

  /** Answers every PINGREQ with PINGRESP (while not stalled). */
  autoPingresp(): void {
    this.reply((packet, connection) => {
      if (packet.type === 'pingreq') connection.send({ type: 'pingresp' });
    });
  }

  /** @internal Runs the automatic replies (called by ServerConnection). */
  handle(packet: Packet, connection: ServerConnection): void {
    for (const reply of this.#replies) reply(packet, connection);
  }

  // The latest connection's methods, for tests with one connection at a time.

  /** `next` on the latest connection, waiting for the first one if none is open yet. */
  async next<T extends PacketType>(type: T, timeoutMs = WAIT_MS): Promise<PacketOf<T>> {
    const connection = this.current ?? (await this.connection(1));
    return connection.next(type, timeoutMs);
  }

  send(packet: Packet): void {
    this.#latest().send(packet);
  }

  sendBytes(bytes: Uint8Array): void {
    this.#latest().sendBytes(bytes);
  }

  close(): void {
    this.#latest().close();
  }

  stall(): void {
    this.#latest().stall();
  }

  resume(): void {
    this.#latest().resume();
  }

  #latest(): ServerConnection {
    const connection = this.current;
    if (connection === undefined) throw new Error('no connection has been opened yet');
    return connection;
  }
}
