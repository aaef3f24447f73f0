/**
 * One network connection of the session: the socket, the frame writer, the decoder, the
 * keepalive scheduler and the CONNACK deadline, with ONE way to end it (`close`).
 *
 * It knows MQTT only as far as a connection must: CONNECT goes first [MQTT-3.1.0-1], PINGREQ
 * and PINGRESP keep it alive [MQTT-3.1.2-23], DISCONNECT ends it cleanly [MQTT-3.14.4-1/-2].
 * What the packets mean for the session is the owner's business (see `ConnectionOwner`).
 *
 * Reading pauses for two reasons, each undone when it passes:
 * - the application is behind on `messages()` (only once CONNACK is in: pausing earlier would
 *   leave the CONNACK unread);
 * - the socket holds more than `BACKLOG_LIMIT` bytes it could not send yet. A server that floods
 *   us and does not read would otherwise make us queue PUBACKs without limit; not reading makes
 *   TCP hold it back. The limit is well above the socket's high-water mark (16 KiB), which a busy
 *   publisher crosses all the time: pausing there would stall the answers (PUBACKs, messages)
 *   that let it go on, and halve its rate for nothing.
 */
import type { Duplex } from 'node:stream';
import { DISCONNECT_FRAME, PINGREQ_FRAME } from '../packet/codec.js';
import { PacketDecoder } from '../packet/decoder.js';
import { MqttProtocolError } from '../packet/errors.js';
import type { ConnectPacket, Packet } from '../packet/types.js';
import type { Clock } from '../shared/clock.js';
import { afterHandshakeError } from '../transport/failures.js';
import type { ResolvedTransportOptions } from '../transport/options.js';
import { MqttClientError } from './errors.js';
import { KeepaliveScheduler } from './keepalive.js';
import type { KeepaliveHooks } from './keepalive.js';
import { FrameWriter } from './writer.js';
import type { WriterHooks } from './writer.js';
import type { CloseDetails } from './events.js';

/** Sees every packet with its bytes, in the order they cross the wire (`up`: client to server). */
export type PacketTap = (up: boolean, packet: Packet, frame: Uint8Array) => void;

/** What a connection needs from the session that owns it. */
export interface ConnectionOwner {
  /** Handles one received packet; throws MqttProtocolError/MqttClientError to close the connection. */
  handle(conn: Connection, packet: Packet, now: number): void;
  /** An application listener threw while a packet was handled (after the packet's own work was done). */
  listenerThrew(error: unknown): void;
  /** The connection closed; `error` says why when it failed. Called once per connection. */
  closed(conn: Connection, error: Error | undefined): void;
  /** The socket drained: writes may go on. */
  drained(conn: Connection): void;
  /** Observers of the wire, or undefined when nobody listens (then nothing is spent on them). */
  readonly tap: PacketTap | undefined;
}

const HEAD_KEPT = 64;
/** Unsent bytes in the socket above which reading pauses until it drains (see the header). */
const BACKLOG_LIMIT = 256 * 1024;
const EMPTY = new Uint8Array(0);

/** Settings a connection takes from the resolved client options. */
export interface ConnectionSettings {
  readonly keepalive: number;
  readonly pingTimeout: number;
  readonly maxPacketSize: number;
  /** The socket's options, to read a TLS alert that comes after the handshake. */
  readonly socket: ResolvedTransportOptions;
}

/** A listener's exception on its way out of packet handling: not the server's fault. */
export class ListenerFailure {
  constructor(readonly thrown: unknown) {}
}

interface PingWaiter {
  readonly sentAt: number;
  readonly timer: unknown;
  resolve(rtt: number): void;
  reject(error: Error): void;
}

export class Connection implements KeepaliveHooks, WriterHooks {
  readonly writer: FrameWriter;
  readonly #decoder: PacketDecoder;
  readonly keepalive: KeepaliveScheduler;
  #connackTimer: unknown = undefined;
  /** CONNACK accepted the session on this connection. */
  accepted = false;
  acceptedAt = 0;
  #closed = false;
  /** Why it closed, when it failed (our own decision or the socket's error). */
  failure: Error | undefined = undefined;
  /** 'drain' events so far: the socket makes progress although reading is paused. */
  #drains = 0;
  #drainsAtPing = 0;
  #consumerBehind = false;
  #readingPaused = false;
  #pings: PingWaiter[] | undefined;
  /** The first bytes the server sent, kept until CONNACK accepts (see `CloseDetails`). */
  #head: Uint8Array | undefined;

  constructor(
    private readonly owner: ConnectionOwner,
    readonly socket: Duplex,
    private readonly settings: ConnectionSettings,
    private readonly clock: Clock,
  ) {
    this.keepalive = new KeepaliveScheduler(clock, settings.keepalive * 1000, settings.pingTimeout, this);
    this.writer = new FrameWriter(socket, this, clock);
    this.#decoder = new PacketDecoder({ maxPacketSize: settings.maxPacketSize, payloadView: bufferView });
    // Shared listener functions find their connection on the socket: no closures per connection.
    (socket as ConnectionSocket)[CONNECTION] = this;
    socket.on('data', onSocketData);
    socket.on('error', onSocketError);
    socket.on('close', onSocketClose);
    socket.on('drain', onSocketDrain);
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** The options this connection's socket was opened with. */
  get transport(): ResolvedTransportOptions {
    return this.settings.socket;
  }

  /** What the session tells the `close` event about this connection. */
  details(): CloseDetails {
    return { accepted: this.accepted, received: this.#head ?? EMPTY };
  }

  /**
   * Writes CONNECT, the first packet on the connection [MQTT-3.1.0-1], and arms the CONNACK
   * deadline. Throws (nothing written) when the codec refuses the packet.
   */
  open(connect: ConnectPacket, deadline: number): void {
    this.send(connect);
    this.writer.flush();
    this.#connackTimer = this.clock.setTimeout(() => {
      this.#connackTimer = undefined;
      this.close(new MqttClientError('connack-timeout', `no CONNACK within the connect timeout (connectTimeout) of connecting`));
    }, Math.max(1, deadline - this.clock.now()));
  }

  /** CONNACK accepted the session: the keepalive starts and a consumer still behind pauses reading. */
  accept(now: number): void {
    this.#clearConnackTimer();
    this.accepted = true;
    this.#head = undefined;
    this.acceptedAt = now;
    this.keepalive.start();
    this.#updateReading();
  }

  /** The CONNACK arrived (accepting or refusing): its deadline no longer applies. */
  connackArrived(): void {
    this.#clearConnackTimer();
  }

  /** Encodes `packet` into this tick's batch. Throws MqttProtocolError (nothing written) when invalid. */
  send(packet: Packet): void {
    this.writer.write(packet);
    const tap = this.owner.tap;
    if (tap !== undefined) tap(true, packet, this.writer.lastFrame());
  }

  // -------------------------------------------------------------------------------------------
  // Keepalive and ping

  /** @internal The keepalive scheduler's hook: a PINGREQ is due. */
  sendPing(): void {
    if (this.#closed) return;
    this.#drainsAtPing = this.#drains;
    this.writer.writeFrame(PINGREQ_FRAME);
    this.owner.tap?.(true, PINGREQ, PINGREQ_FRAME);
    // The scheduler re-arms from this at once; the flush at the end of the tick will not be late.
    this.keepalive.packetSent(this.clock.now());
  }

  /** @internal The keepalive scheduler's hook: no PINGRESP in time. */
  pingTimedOut(): void {
    if (this.#readingPaused && (this.#consumerBehind || this.#drains > this.#drainsAtPing)) {
      // The PINGRESP may be among the bytes we have not read: reading is paused for a consumer
      // that is behind, or for a socket that is slow but still draining. That is not a dead
      // connection; the check is reliable again once reading resumes.
      this.#drainsAtPing = this.#drains;
      this.keepalive.start();
      return;
    }
    const { keepalive, pingTimeout } = this.settings;
    this.close(
      new MqttClientError(
        'ping-timeout',
        `no PINGRESP within ${pingTimeout} ms of PINGREQ: the connection is dead (keepalive ${keepalive} s)`,
      ),
    );
  }

  /** Sends PINGREQ now; resolves with the round trip in ms when PINGRESP arrives. */
  ping(): Promise<number> {
    const sentAt = this.clock.now();
    return new Promise<number>((resolve, reject) => {
      const waiter: PingWaiter = {
        sentAt,
        timer: this.clock.setTimeout(() => {
          const error = new MqttClientError('ping-timeout', `no PINGRESP within ${this.settings.pingTimeout} ms of PINGREQ`);
          this.close(error); // rejects this waiter with the same error
        }, this.settings.pingTimeout),
        resolve,
        reject,
      };
      (this.#pings ??= []).push(waiter);
      this.sendPing();
    });
  }

  /** PINGRESP arrived. */
  pingrespReceived(now: number): void {
    this.keepalive.pingrespReceived(now);
    const pings = this.#pings;
    this.#pings = undefined;
    if (pings !== undefined) {
      for (const w of pings) {
        this.clock.clearTimeout(w.timer);
        w.resolve(now - w.sentAt);
      }
    }
  }

  // -------------------------------------------------------------------------------------------
  // Reading

  /** @internal A chunk arrived. */
  receive(chunk: Buffer): void {
    if (this.#closed) return;
    if (!this.accepted && (this.#head === undefined || this.#head.length < HEAD_KEPT)) {
      const head = this.#head ?? EMPTY;
      this.#head = Buffer.concat([head, chunk.subarray(0, HEAD_KEPT - head.length)]);
    }
    let packets: Packet[];
    // Observed, the decoder also hands over each packet's frame: the bytes as they came.
    const frames = this.owner.tap === undefined ? undefined : ([] as Uint8Array[]);
    try {
      packets = this.#decoder.push(chunk, frames);
    } catch (error) {
      this.close(toError(error)); // [MQTT-4.8.0-1]
      return;
    }
    const now = this.clock.now();
    this.keepalive.packetReceived(now);
    let listenerError: unknown;
    for (let i = 0; i < packets.length; i++) {
      const packet = packets[i]!;
      if (this.#closed) break;
      const tap = this.owner.tap;
      if (tap !== undefined && frames !== undefined) tap(false, packet, frames[i]!);
      try {
        this.owner.handle(this, packet, now);
      } catch (error) {
        if (error instanceof ListenerFailure) {
          listenerError ??= error.thrown;
        } else if (error instanceof MqttProtocolError || error instanceof MqttClientError) {
          this.close(error); // a protocol violation or a session error: the connection ends [MQTT-4.8.0-1]
          break;
        } else {
          listenerError ??= error;
        }
      }
    }
    if (listenerError !== undefined) this.owner.listenerThrew(listenerError);
  }

  /** The application fell behind on `messages()` (true) or caught up (false). */
  consumerBehind(behind: boolean): void {
    this.#consumerBehind = behind;
    this.#updateReading();
  }

  /** @internal The writer's hook: bytes went to the socket. */
  flushed(now: number): void {
    this.keepalive.packetSent(now);
    // Past the backlog limit: stop reading until the socket drains.
    if (this.writer.saturated && !this.#readingPaused && this.socket.writableLength > BACKLOG_LIMIT) this.#updateReading();
  }

  /** @internal The writer's hook: the socket's buffer is above its high-water mark. */
  saturated(): void {
    this.#updateReading();
  }

  /** @internal */
  drainedSocket(): void {
    this.#drains++;
    this.writer.drained();
    this.#updateReading();
    this.owner.drained(this);
  }

  #updateReading(): void {
    if (this.#closed) return;
    const backedUp = this.writer.saturated && this.socket.writableLength > BACKLOG_LIMIT;
    const pause = backedUp || (this.accepted && this.#consumerBehind);
    if (pause === this.#readingPaused) return;
    this.#readingPaused = pause;
    if (pause) this.socket.pause();
    else this.socket.resume();
  }

  // -------------------------------------------------------------------------------------------
  // Ending

  /**
   * The one way a connection ends, whatever the cause: timers stop, nothing more is written, the
   * socket is destroyed, pings reject, and the owner hears of it once. `error` says why it
   * failed; `undefined` for an orderly close. Safe to call more than once.
   */
  close(error?: Error): void {
    if (this.#closed) return;
    this.#closed = true;
    this.failure ??= error;
    this.keepalive.stop();
    this.#clearConnackTimer();
    this.writer.close();
    this.socket.destroy();
    const pings = this.#pings;
    this.#pings = undefined;
    if (pings !== undefined) {
      const reason = this.failure ?? new MqttClientError('connection-closed', 'the connection closed before PINGRESP');
      for (const w of pings) {
        this.clock.clearTimeout(w.timer);
        w.reject(reason);
      }
    }
    this.owner.closed(this, this.failure);
  }

  /**
   * Ends the connection in order: DISCONNECT, flush, end the socket and wait for it to close
   * (destroying it after 2 s if the other side lingers). Nothing is sent after DISCONNECT
   * [MQTT-3.14.4-1, MQTT-3.14.4-2].
   */
  disconnect(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.writer.writeFrame(DISCONNECT_FRAME);
    this.owner.tap?.(true, DISCONNECT, DISCONNECT_FRAME);
    this.writer.flush();
    this.writer.close();
    this.keepalive.stop();
    const socket = this.socket;
    return new Promise((resolve) => {
      const timer = this.clock.setTimeout(() => this.close(), 2000);
      socket.once('close', () => {
        this.clock.clearTimeout(timer);
        this.close();
        resolve();
      });
      socket.end();
      if (socket.destroyed) {
        this.clock.clearTimeout(timer);
        this.close();
        resolve();
      }
    });
  }

  #clearConnackTimer(): void {
    if (this.#connackTimer === undefined) return;
    this.clock.clearTimeout(this.#connackTimer);
    this.#connackTimer = undefined;
  }
}

const PINGREQ: Packet = Object.freeze({ type: 'pingreq' });
const DISCONNECT: Packet = Object.freeze({ type: 'disconnect' });

const CONNECTION = Symbol('aliot.connection');
type ConnectionSocket = Duplex & { [CONNECTION]?: Connection };

/** Payloads as Node Buffers, made by the decoder: one view per message, no copy. */
function bufferView(memory: ArrayBuffer, byteOffset: number, length: number): Buffer {
  return Buffer.from(memory, byteOffset, length);
}

function onSocketData(this: ConnectionSocket, chunk: Buffer): void {
  this[CONNECTION]!.receive(chunk);
}

function onSocketError(this: ConnectionSocket, error: Error): void {
  const conn = this[CONNECTION]!;
  // With TLS 1.3 a server's refusal of the client's certificate arrives here, on the first read
  // after the handshake, before any CONNACK: the transport says what it means.
  const refused = conn.accepted ? undefined : afterHandshakeError(error, conn.transport);
  conn.close(new SocketFailure(refused ?? error));
}

function onSocketClose(this: ConnectionSocket): void {
  this[CONNECTION]!.close();
}

function onSocketDrain(this: ConnectionSocket): void {
  this[CONNECTION]!.drainedSocket();
}

/** A socket error, wrapped so that the session can tell it from its own decisions. */
export class SocketFailure extends Error {
  constructor(readonly error: Error) {
    super(error.message, { cause: error });
  }
}

function toError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
