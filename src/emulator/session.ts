/**
 * The server side of one network connection: framing, the CONNECT handshake, subscriptions,
 * QoS 1 in both directions, keepalive, and closing on any violation. What the platform decides
 * (who may connect, where a PUBLISH goes, what Alink answers) is asked of the {@link SessionHost}.
 */
import type { Clock } from '../shared/clock.js';
import type { Socket } from 'node:net';
import type { RefusedReturnCode } from '../aliyun/connack.js';
import { encode } from '../packet/codec.js';
import { PacketDecoder } from '../packet/decoder.js';
import { MqttProtocolError } from '../packet/errors.js';
import type {
  ConnectPacket,
  Packet,
  PublishPacket,
  SubackReturnCode,
  SubscribePacket,
  UnsubscribePacket,
} from '../packet/types.js';
import type { Admission } from './admission.js';
import { EmulatorError } from './errors.js';
import { FrameTap } from './frames.js';
import { CLOSE_GRACE_MS, MAX_CONNECT_BYTES, MAX_INBOUND_PACKET } from './limits.js';
import type { DeliveryCallback } from './in-flight.js';
import type { SessionState } from './session-state.js';
import type {
  DisconnectReason,
  EmulatorConnection,
  PacketEvent,
  RefuseReason,
  TracedConnection,
} from './types.js';

/** How a session ended. */
export type SessionOutcome =
  | { readonly accepted: true; readonly reason: DisconnectReason; readonly message: string }
  | {
      readonly accepted: false;
      readonly reason: RefuseReason;
      readonly message: string;
      readonly returnCode: RefusedReturnCode | undefined;
    };

/** What a session asks of the platform it belongs to. */
export interface SessionHost {
  readonly clock: Clock;
  /** The connect timeout the deadline comes from, for the message when it passes. */
  readonly connectTimeout: number;
  /** Whether anyone listens to packet traces; frames are only cut out of the stream then. */
  tracing(): boolean;
  /**
   * Decides on a CONNECT. On `ok`, the host has already made this session the device's only one
   * (ending an older connection of the same device), so CONNACK 0 can follow at once.
   */
  admit(session: Session, connect: ConnectPacket): Admission;
  /** The session state for the device just admitted: the one kept for it, or a new one [MQTT-3.2.2-2]. */
  resume(session: Session, clean: boolean): { readonly state: SessionState; readonly sessionPresent: boolean };
  /** CONNACK 0 went out. */
  opened(session: Session): void;
  /** A QoS 0 or 1 PUBLISH arrived (and, for QoS 1, was acknowledged). */
  published(session: Session, topic: string, payload: Uint8Array, qos: 0 | 1): void;
  /** The session is over and its socket closed or closing; called once. */
  ended(session: Session, outcome: SessionOutcome): void;
  /** Whether `state` outlives the connection (Clean Session 0); when not, what it awaits fails. */
  keep(state: SessionState, outcome: SessionOutcome): boolean;
  trace(event: PacketEvent): void;
}

export class Session {
  readonly #socket: Socket;
  readonly #host: SessionHost;
  readonly #decoder = new PacketDecoder({ maxPacketSize: MAX_INBOUND_PACKET });
  #state: 'awaiting-connect' | 'open' | 'closed' = 'awaiting-connect';
  #traced: TracedConnection;
  #device: EmulatorConnection | undefined;
  readonly #tap = new FrameTap();
  /** Bytes read before the CONNECT was accepted, at most {@link MAX_CONNECT_BYTES}. */
  #unauthenticatedBytes = 0;
  /** The CONNECT deadline, then the keepalive check. */
  #timer: unknown;
  #lastPacketAt = 0;
  /** Subscriptions and unacknowledged deliveries, from CONNACK 0 on: new, or kept from an earlier connection. */
  #session: SessionState | undefined;

  /**
   * Serves `socket`, whose CONNECT must arrive by `deadline` on the host's clock (the listener
   * starts the connect timeout when TCP accepts, so a TLS handshake spends part of it).
   */
  constructor(connection: TracedConnection, socket: Socket, host: SessionHost, deadline: number) {
    this.#socket = socket;
    this.#host = host;
    this.#traced = connection;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('error', (error) => this.#lose('connection-lost', `socket error: ${error.message}`));
    socket.on('close', () => this.#lose('connection-lost', 'the device closed the connection without DISCONNECT'));
    this.#timer = host.clock.setTimeout(
      () =>
        this.#end({
          accepted: false,
          reason: 'connect-timeout',
          message: `no CONNECT within ${host.connectTimeout} ms of connecting`,
          returnCode: undefined,
        }),
      Math.max(0, deadline - host.clock.now()),
    );
  }

  /** The connection as traces and events name it. */
  get traced(): TracedConnection {
    return this.#traced;
  }

  /** The device, once its CONNECT was accepted (kept after the end, for the `disconnect` event). */
  get device(): EmulatorConnection | undefined {
    return this.#device;
  }

  /** Between CONNACK 0 and the end. */
  get open(): boolean {
    return this.#state === 'open';
  }

  /** The highest QoS granted by this session's filters that match `topic`, or -1 when none matches [MQTT-3.3.5-1]. */
  grantedQos(topic: string): -1 | 0 | 1 {
    return this.#session?.grantedQos(topic) ?? -1;
  }

  /**
   * Sends a PUBLISH (never retained [MQTT-3.3.1-9], never DUP: within a connection there is no
   * resend, TCP loses nothing; a kept session's resend on the next connection is {@link #resume}).
   * QoS 1 takes a packet id no other in-flight PUBLISH holds [MQTT-2.3.1-2]; `done` runs on its
   * PUBACK, or with an error if the session lets it go first.
   */
  deliver(topic: string, payload: Uint8Array, qos: 0 | 1, done?: DeliveryCallback): void {
    const session = this.#session;
    if (this.#state !== 'open' || session === undefined) {
      done?.(new EmulatorError('not-acknowledged', 'the connection ended before the delivery'));
      return;
    }
    if (qos === 0) {
      this.#send({ type: 'publish', topic, payload, qos: 0, retain: false, dup: false });
      done?.();
      return;
    }
    let packetId: number;
    try {
      packetId = session.inFlight.add(done, session.keep(topic, payload, done));
    } catch (error) {
      done?.(error as EmulatorError);
      return;
    }
    this.#send({ type: 'publish', topic, payload, qos: 1, retain: false, dup: false, packetId });
  }

  /** Ends an accepted session because the same device connected again. */
  kick(): void {
    if (this.#state === 'open') {
      this.#end({ accepted: true, reason: 'kicked', message: 'the same device connected again; the newer connection stays' });
    }
  }

  /** Ends the session because the emulator is closing. */
  shutdown(): void {
    this.#lose('server-closed', 'the emulator is closing');
  }

  #onData(chunk: Buffer): void {
    if (this.#state !== 'awaiting-connect') {
      this.#consume(chunk);
      return;
    }
    // Until its CONNECT is accepted a connection is nobody: read no more of it than a CONNECT can
    // take, so that what an unauthenticated peer makes the emulator hold stays that small.
    const room = MAX_CONNECT_BYTES - this.#unauthenticatedBytes;
    const head = chunk.length > room ? chunk.subarray(0, room) : chunk;
    this.#unauthenticatedBytes += head.length;
    this.#consume(head);
    if (this.#state === 'awaiting-connect' && this.#unauthenticatedBytes >= MAX_CONNECT_BYTES) {
      const message = `the first packet is larger than ${MAX_CONNECT_BYTES} bytes; a CONNECT is far smaller`;
      this.#end({ accepted: false, reason: 'connect-too-large', message, returnCode: undefined });
      return;
    }
    // The CONNECT was accepted within the head: what followed it is the device's.
    if (head !== chunk && this.open) this.#consume(chunk.subarray(head.length));
  }

  #consume(chunk: Uint8Array): void {
    if (this.#state === 'closed') return;
    let packets: Packet[];
    try {
      packets = this.#decoder.push(chunk);
    } catch (error) {
      this.#onDecodeError(error);
      return;
    }
    const frames = this.#tap.frames(chunk, packets, this.#decoder.bufferedBytes, this.#host.tracing());
    if (packets.length > 0) this.#lastPacketAt = this.#host.clock.now();
    // Handling a packet can end the session; what followed it in the chunk is then dropped.
    for (let i = 0; i < packets.length && !this.#closed; i++) {
      const packet = packets[i]!;
      if (frames !== undefined) this.#host.trace({ direction: 'in', packet, bytes: frames[i]!, connection: this.#traced });
      this.#handle(packet);
    }
  }

  get #closed(): boolean {
    return this.#state === 'closed';
  }

  #onDecodeError(error: unknown): void {
    const code = error instanceof MqttProtocolError ? error.code : undefined;
    const message = error instanceof Error ? error.message : String(error);
    if (this.#state === 'awaiting-connect' && (code === 'unsupported-protocol-level' || code === 'invalid-protocol-name')) {
      // [MQTT-3.1.2-2] An MQTT 3.1 ('MQIsdp', level 3) or MQTT 5 client gets a CONNACK it can read.
      this.#refuse(1, 'unsupported-protocol', `not MQTT 3.1.1: ${message}`);
      return;
    }
    this.#lose('protocol-error', message); // [MQTT-4.8.0-1]
  }

  #handle(packet: Packet): void {
    if (this.#state === 'awaiting-connect') {
      if (packet.type === 'connect') {
        this.#onConnect(packet);
      } else {
        this.#end({
          accepted: false,
          reason: 'first-packet-not-connect',
          message: `the first packet was ${packet.type.toUpperCase()}, not CONNECT [MQTT-3.1.0-1]`,
          returnCode: undefined,
        });
      }
      return;
    }
    switch (packet.type) {
      case 'publish':
        this.#onPublish(packet);
        return;
      case 'puback':
        this.#session!.acknowledge(packet.packetId);
        return;
      case 'subscribe':
        this.#onSubscribe(packet);
        return;
      case 'unsubscribe':
        this.#onUnsubscribe(packet);
        return;
      case 'pingreq':
        this.#send({ type: 'pingresp' }); // [MQTT-3.12.4-1]
        return;
      case 'disconnect':
        this.#end({ accepted: true, reason: 'client-disconnect', message: 'the device sent DISCONNECT' });
        return;
      case 'connect':
        this.#lose('protocol-error', 'a second CONNECT on the connection [MQTT-3.1.0-2]');
        return;
      case 'pubrec':
      case 'pubrel':
      case 'pubcomp':
        this.#unsupported(`${packet.type.toUpperCase()} belongs to a QoS 2 flow; the platform has no QoS 2`);
        return;
      default:
        this.#lose('protocol-error', `${packet.type.toUpperCase()} only goes from server to client`);
    }
  }

  #onConnect(packet: ConnectPacket): void {
    this.#host.clock.clearTimeout(this.#timer);
    const admission = this.#host.admit(this, packet);
    if (!admission.ok) {
      this.#refuse(admission.returnCode, admission.reason, admission.message);
      return;
    }
    const { productKey, deviceName, clientId, authentication } = admission;
    this.#device = Object.freeze({
      id: this.#traced.id,
      productKey,
      deviceName,
      clientId,
      keepalive: packet.keepalive,
      remoteAddress: this.#traced.remoteAddress,
      authentication,
    });
    this.#traced = Object.freeze({ ...this.#traced, productKey, deviceName, clientId });
    const { state, sessionPresent } = this.#host.resume(this, packet.clean);
    this.#session = state;
    this.#state = 'open';
    this.#armKeepalive(packet.keepalive * 1500);
    this.#send({ type: 'connack', sessionPresent, returnCode: 0 }); // [MQTT-3.2.2-1, MQTT-3.2.2-2]
    this.#host.opened(this);
    if (sessionPresent) this.#resume(state);
  }

  /**
   * On a kept session's new connection: what the device did not acknowledge goes again first, in
   * its order, with DUP 1 and its packet id [MQTT-4.4.0-1, MQTT-2.3.1-4, MQTT-4.6.0-1]; then what
   * was queued while the device was away, as new deliveries.
   */
  #resume(state: SessionState): void {
    for (const [packetId, { topic, payload }] of state.inFlight.kept()) {
      this.#send({ type: 'publish', topic, payload, qos: 1, retain: false, dup: true, packetId });
    }
    for (const message of state.takeQueue()) {
      const { topic, payload, done } = message;
      const packetId = state.inFlight.add(done, message); // at most maxMessages (<= 65,535) are kept, so an id is free
      this.#send({ type: 'publish', topic, payload, qos: 1, retain: false, dup: false, packetId });
    }
  }

  #onPublish(packet: PublishPacket): void {
    const qos = packet.qos;
    if (qos === 2) {
      this.#unsupported('a QoS 2 PUBLISH; the platform supports QoS 0 and 1 only');
      return;
    }
    if (packet.retain) {
      this.#unsupported('a retained PUBLISH; the platform has no retained messages');
      return;
    }
    // Acknowledge first, so a trace reads PUBLISH, PUBACK, then whatever the PUBLISH caused.
    if (qos === 1) this.#send({ type: 'puback', packetId: packet.packetId! }); // [MQTT-4.3.2-2]
    this.#host.published(this, packet.topic, packet.payload, qos);
  }

  #onSubscribe(packet: SubscribePacket): void {
    const returnCodes: SubackReturnCode[] = packet.subscriptions.map(({ topicFilter, qos }) => {
      // The platform has no QoS 2; a lower grant than asked is allowed (section 3.8.4), a refusal would lose the subscription.
      const granted = qos === 0 ? 0 : 1;
      this.#session!.subscriptions.set(topicFilter, granted);
      return granted;
    });
    this.#send({ type: 'suback', packetId: packet.packetId, returnCodes }); // [MQTT-3.8.4-1, MQTT-2.3.1-7]
  }

  #onUnsubscribe(packet: UnsubscribePacket): void {
    for (const filter of packet.topicFilters) this.#session!.subscriptions.delete(filter);
    this.#send({ type: 'unsuback', packetId: packet.packetId }); // [MQTT-3.10.4-4, MQTT-3.10.4-5]
  }

  /** Checks the keepalive when it could first have run out, and again each time it has not (section 3.1.2.10). */
  #armKeepalive(delay: number): void {
    this.#timer = this.#host.clock.setTimeout(() => {
      const limit = this.#device!.keepalive * 1500;
      const idle = this.#host.clock.now() - this.#lastPacketAt;
      if (idle < limit) {
        this.#armKeepalive(limit - idle);
        return;
      }
      this.#end({
        accepted: true,
        reason: 'keepalive-timeout',
        message: `nothing received for ${idle} ms, 1.5 times the keepalive of ${this.#device!.keepalive} s`,
      });
    }, delay);
  }

  #send(packet: Packet): void {
    if (this.#state === 'closed') return;
    const bytes = encode(packet);
    this.#socket.write(bytes);
    if (this.#host.tracing()) this.#host.trace({ direction: 'out', packet, bytes, connection: this.#traced });
  }

  /** CONNACK with a refusal, then close [MQTT-3.2.2-5]; anything the device sent after CONNECT is ignored [MQTT-3.1.4-5]. */
  #refuse(returnCode: RefusedReturnCode, reason: RefuseReason, message: string): void {
    this.#send({ type: 'connack', sessionPresent: false, returnCode });
    this.#end({ accepted: false, reason, message, returnCode });
  }

  #unsupported(message: string): void {
    this.#end({ accepted: true, reason: 'unsupported-feature', message });
  }

  /** Ends the session for a reason that can happen before or after CONNACK 0. */
  #lose(reason: 'connection-lost' | 'protocol-error' | 'server-closed', message: string): void {
    this.#end(this.#state === 'open' ? { accepted: true, reason, message } : { accepted: false, reason, message, returnCode: undefined });
  }

  /**
   * Ends the session once. The socket is ended cleanly (see {@link CLOSE_GRACE_MS}) unless it is
   * gone already or the emulator is closing, which destroys it at once.
   */
  #end(outcome: SessionOutcome): void {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    this.#host.clock.clearTimeout(this.#timer);
    if (outcome.reason === 'connection-lost' || outcome.reason === 'server-closed') {
      this.#socket.destroy();
    } else {
      endGracefully(this.#socket, this.#host.clock, CLOSE_GRACE_MS);
    }
    this.#tap.clear();
    this.#host.ended(this, outcome);
    const session = this.#session;
    // With Clean Session 0 the session outlives the connection [MQTT-3.1.2-4]; otherwise it ends here.
    if (session !== undefined && !this.#host.keep(session, outcome)) {
      session.discard(() => new EmulatorError('not-acknowledged', `the connection ended (${outcome.reason}) before the device acknowledged a QoS 1 delivery`));
    }
  }
}

/**
 * Ends `socket` (what was written goes out first, then TLS's close_notify and a FIN) and
 * destroys it if the peer has not closed its side within `graceMs` on `clock`.
 */
function endGracefully(socket: Socket, clock: Clock, graceMs: number): void {
  socket.end();
  const timer = clock.setTimeout(() => socket.destroy(), graceMs);
  socket.once('close', () => clock.clearTimeout(timer));
}
