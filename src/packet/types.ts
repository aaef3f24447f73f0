/**
 * MQTT 3.1.1 control packets as plain readonly values.
 *
 * One discriminated union, `Packet`, tagged by `type`. Field names follow the OASIS
 * specification's wording, so the spec and the code read alike. Byte payloads are `Uint8Array`;
 * when they come out of the decoder they are views into the received bytes, not copies.
 */

/** Quality of service: 0 at most once, 1 at least once, 2 exactly once (section 4.3). */
export type QoS = 0 | 1 | 2;

/** The Will Message carried by CONNECT (section 3.1.2.5 and 3.1.3.2/3). */
export interface Will {
  readonly topic: string;
  readonly payload: Uint8Array;
  readonly qos: QoS;
  readonly retain: boolean;
}

/** CONNECT (type 1): client to server, the first packet on a connection [MQTT-3.1.0-1]. */
export interface ConnectPacket {
  readonly type: 'connect';
  readonly clientId: string;
  /** Seconds, 0..65535; 0 turns the keepalive mechanism off (section 3.1.2.10). */
  readonly keepalive: number;
  /** Clean Session flag (section 3.1.2.4). */
  readonly clean: boolean;
  readonly username?: string | undefined;
  readonly password?: Uint8Array | undefined;
  readonly will?: Will | undefined;
}

/** CONNACK return codes (section 3.2.2.3, Table 3.1). */
export type ConnectReturnCode = 0 | 1 | 2 | 3 | 4 | 5;

/** CONNACK (type 2): server to client. */
export interface ConnackPacket {
  readonly type: 'connack';
  readonly sessionPresent: boolean;
  readonly returnCode: ConnectReturnCode;
}

/** PUBLISH (type 3): both directions. */
export interface PublishPacket {
  readonly type: 'publish';
  readonly topic: string;
  readonly payload: Uint8Array;
  readonly qos: QoS;
  readonly retain: boolean;
  readonly dup: boolean;
  /** Present exactly when qos > 0 [MQTT-2.3.1-1, MQTT-2.3.1-5]. */
  readonly packetId?: number | undefined;
}

/** PUBACK (4), PUBREC (5), PUBREL (6), PUBCOMP (7) and UNSUBACK (11): a packet id and nothing else. */
export interface PubackPacket {
  readonly type: 'puback';
  readonly packetId: number;
}
export interface PubrecPacket {
  readonly type: 'pubrec';
  readonly packetId: number;
}
export interface PubrelPacket {
  readonly type: 'pubrel';
  readonly packetId: number;
}
export interface PubcompPacket {
  readonly type: 'pubcomp';
  readonly packetId: number;
}
export interface UnsubackPacket {
  readonly type: 'unsuback';
  readonly packetId: number;
}

/** One topic filter and the maximum QoS asked for it (section 3.8.3). */
export interface Subscription {
  readonly topicFilter: string;
  readonly qos: QoS;
}

/** SUBSCRIBE (type 8): client to server. */
export interface SubscribePacket {
  readonly type: 'subscribe';
  readonly packetId: number;
  readonly subscriptions: readonly Subscription[];
}

/** SUBACK return codes: the granted QoS, or 0x80 for failure (section 3.9.3). */
export type SubackReturnCode = 0 | 1 | 2 | 0x80;

/** SUBACK (type 9): server to client. */
export interface SubackPacket {
  readonly type: 'suback';
  readonly packetId: number;
  readonly returnCodes: readonly SubackReturnCode[];
}

/** UNSUBSCRIBE (type 10): client to server. */
export interface UnsubscribePacket {
  readonly type: 'unsubscribe';
  readonly packetId: number;
  readonly topicFilters: readonly string[];
}

/** PINGREQ (12), PINGRESP (13), DISCONNECT (14): a fixed header and nothing else. */
export interface PingreqPacket {
  readonly type: 'pingreq';
}
export interface PingrespPacket {
  readonly type: 'pingresp';
}
export interface DisconnectPacket {
  readonly type: 'disconnect';
}

export type Packet =
  | ConnectPacket
  | ConnackPacket
  | PublishPacket
  | PubackPacket
  | PubrecPacket
  | PubrelPacket
  | PubcompPacket
  | SubscribePacket
  | SubackPacket
  | UnsubscribePacket
  | UnsubackPacket
  | PingreqPacket
  | PingrespPacket
  | DisconnectPacket;

export type PacketType = Packet['type'];

/** The packet with a given `type`, e.g. `PacketOf<'publish'>`. */
export type PacketOf<T extends PacketType> = Extract<Packet, { type: T }>;

/** Control packet type numbers (section 2.2.1, Table 2.1), index = number. */
export const PACKET_TYPE_NAMES = [
  undefined,
  'connect',
  'connack',
  'publish',
  'puback',
  'pubrec',
  'pubrel',
  'pubcomp',
  'subscribe',
  'suback',
  'unsubscribe',
  'unsuback',
  'pingreq',
  'pingresp',
  'disconnect',
  undefined,
] as const;

/**
 * Makes a PUBLISH payload's view of the bytes it arrived in (see `PacketDecoderOptions`): for
 * example `Buffer.from`, for Node `Buffer`s.
 */
export type PayloadView = (buffer: ArrayBuffer, byteOffset: number, length: number) => Uint8Array;
