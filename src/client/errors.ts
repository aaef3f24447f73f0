import type { ConnectReturnCode, PacketType, QoS } from '../packet/types.js';
import { CodedError } from '../shared/errors.js';

/** What went wrong in a session; callers branch on these codes, never on message text. */
export type MqttClientErrorCode =
  /** The server refused the CONNECT (see {@link ConnectionRefusedError}). */
  | 'connection-refused'
  /** No CONNACK within the connect timeout. */
  | 'connack-timeout'
  /** A PINGREQ got no PINGRESP within the ping timeout: the connection is dead. */
  | 'ping-timeout'
  /** The connection closed while an operation needed it and no reconnect will follow. */
  | 'connection-closed'
  /** `end()` was called (or the `signal` aborted) before the operation completed. */
  | 'client-ended'
  /** No room to accept the message (`maxQueuedBytes`, or `offlineQueueSize` while offline): it was not accepted. */
  | 'queue-full'
  /** The message is larger than `maxOutgoingPacketSize`: refused before anything was sent. */
  | 'packet-too-large'
  /** The server closed the connection right after this message twice in a row: it refuses it. */
  | 'message-refused'
  /**
   * A well-formed packet the server may not send at this point: a PUBLISH before CONNACK
   * [MQTT-3.2.0-1], a SUBSCRIBE from a server, an ack for an identifier nobody sent. The connection
   * is closed [MQTT-4.8.0-1].
   */
  | 'unexpected-packet'
  /** The server refused one or more filters of a SUBSCRIBE (SUBACK 0x80). */
  | 'subscribe-failed'
  /** An operation the session cannot do, e.g. QoS 2 (the platform has none). */
  | 'unsupported';

/** An error of the MQTT session (the wire format has `MqttProtocolError`, sockets `TransportError`). */
export class MqttClientError extends CodedError<MqttClientErrorCode> {
  override readonly name: string = 'MqttClientError';
}

/**
 * The server sent a well-formed packet it may not send at this point (code `unexpected-packet`):
 * the session's rule, not the wire format's, so not an MqttProtocolError. The connection closes
 * [MQTT-4.8.0-1].
 */
export class UnexpectedPacketError extends MqttClientError {
  override readonly name = 'UnexpectedPacketError';
  /** The type of the packet that came. */
  readonly packetType: PacketType;

  constructor(packetType: PacketType, message: string) {
    super('unexpected-packet', message);
    this.packetType = packetType;
  }
}

/** How to read a CONNACK refusal, e.g. from the platform profile's table. */
export interface ConnackHint {
  readonly meaning: string;
  readonly cause: string;
  readonly fix: string;
}

/** MQTT 3.1.1's own meanings of the refusal codes (section 3.2.2.3). */
const SPEC_MEANINGS: Record<number, string> = {
  1: 'unacceptable protocol version',
  2: 'identifier rejected',
  3: 'server unavailable',
  4: 'bad user name or password',
  5: 'not authorized',
};

/**
 * The server answered CONNECT with a non-zero return code. `retryable` is true only for 3
 * (server unavailable): the others will fail the same way on every attempt, so the client stops
 * reconnecting instead of hammering the server.
 */
export class ConnectionRefusedError extends MqttClientError {
  override readonly name = 'ConnectionRefusedError';
  readonly returnCode: Exclude<ConnectReturnCode, 0>;
  readonly hint: ConnackHint | undefined;
  readonly retryable: boolean;

  constructor(returnCode: Exclude<ConnectReturnCode, 0>, hint?: ConnackHint) {
    const meaning = hint?.meaning ?? SPEC_MEANINGS[returnCode] ?? 'refused';
    super(
      'connection-refused',
      `the server refused the connection: CONNACK ${returnCode} (${meaning})` +
        (hint === undefined ? '' : `. Likely cause: ${hint.cause}. Fix: ${hint.fix}`),
    );
    this.returnCode = returnCode;
    this.hint = hint;
    this.retryable = returnCode === 3;
  }
}

/** Per-filter outcome of a SUBSCRIBE. */
export interface SubscriptionGrant {
  readonly topicFilter: string;
  /** The QoS the server granted, or `null` when it refused the filter (0x80). */
  readonly qos: QoS | null;
}

/** The server refused at least one filter of a subscribe call (SUBACK return code 0x80). */
export class SubscribeError extends MqttClientError {
  override readonly name = 'SubscribeError';
  /** Every filter of the call with its outcome; refused ones have `qos: null`. */
  readonly grants: readonly SubscriptionGrant[];

  constructor(grants: readonly SubscriptionGrant[]) {
    const refused = grants.filter((g) => g.qos === null).map((g) => JSON.stringify(g.topicFilter));
    super('subscribe-failed', `the server refused the subscription to ${refused.join(', ')} (SUBACK 0x80)`);
    this.grants = grants;
  }
}
