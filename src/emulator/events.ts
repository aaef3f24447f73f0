/**
 * The stand-in's events, as `emulator.on(...)` delivers them: the connections it accepts and
 * refuses, the packets of a trace, sub-devices, kept sessions and registrations. The handle and its
 * options are in `types.ts`, which re-exports these.
 */
import type { Packet } from '../packet/types.js';
import type { RefusedReturnCode } from '../aliyun/connack.js';
import type { VerifyFailureReason } from '../sign/verify.js';
import type { OtaJobEvent } from './cloud/ota-types.js';
import type { HttpLogEntry } from './http/server.js';

/** The `register` event: the platform handed a device its credentials. */
export interface RegisterEvent {
  readonly productKey: string;
  readonly deviceName: string;
  /** `register`: a DeviceSecret over MQTT; `regnwl`: a clientId and token over MQTT; `https`: a DeviceSecret over HTTPS. */
  readonly authType: 'register' | 'regnwl' | 'https';
}

/** One accepted device connection, as `connections()` lists it and the `connect` event reports it. */
export interface EmulatorConnection {
  /** Numbers connections from 1 in the order they were accepted, to tell them apart in a trace. */
  readonly id: number;
  readonly productKey: string;
  readonly deviceName: string;
  /** The bare clientId, without the `|securemode=...|` extension. */
  readonly clientId: string;
  /** Seconds, as the CONNECT asked. */
  readonly keepalive: number;
  readonly remoteAddress: string;
  /** How the device authenticated: its secret signed the CONNECT, or (X.509 mode) its certificate. */
  readonly authentication: 'secret' | 'certificate';
}

/** A network connection as a packet trace names it; the device fields appear once CONNECT is accepted. */
export interface TracedConnection {
  readonly id: number;
  readonly remoteAddress: string;
  readonly productKey?: string | undefined;
  readonly deviceName?: string | undefined;
  readonly clientId?: string | undefined;
}

/** Why a connection ended without CONNACK 0. */
export type RefuseReason =
  | VerifyFailureReason
  /** The CONNECT asked for a protocol other than MQTT 3.1.1 (CONNACK 1). */
  | 'unsupported-protocol'
  /** A zero-length clientId (CONNACK 2) [MQTT-3.1.3-8]. */
  | 'empty-client-id'
  /** The CONNECT carried a will message, which the platform does not have (CONNACK 3). */
  | 'will-not-supported'
  /** Keep Alive outside 30..1200 seconds (CONNACK 3). */
  | 'keepalive-out-of-range'
  /** The TLS handshake and the CONNECT did not both come within `connectTimeout` of the TCP connection (closed without CONNACK). */
  | 'connect-timeout'
  /** The TLS handshake failed: not TLS at all (plain MQTT or HTTP on the TLS port), or no common version or cipher. */
  | 'tls-handshake-failed'
  /** The first packet was larger than `MAX_CONNECT_BYTES` (closed without CONNACK, before it was read whole). */
  | 'connect-too-large'
  /** The first packet was not CONNECT [MQTT-3.1.0-1] (closed without CONNACK). */
  | 'first-packet-not-connect'
  /** The bytes were not MQTT (closed without CONNACK) [MQTT-4.8.0-1]. */
  | 'protocol-error'
  /** The peer went away before its CONNECT was answered (or during the TLS handshake). */
  | 'connection-lost'
  /** `emulator.close()` was called before the CONNECT was answered. */
  | 'server-closed'
  /** A registration CONNECT the platform refuses: a product closed to dynamic registration, a device already activated, ... (CONNACK 5). */
  | 'registration-refused'
  /**
   * X.509 mode: the device presented a certificate the device CA did not issue, or one that is
   * expired, or one for a device that is not registered, or one for another device than the
   * CONNECT's user name names (CONNACK 5).
   */
  | 'certificate-rejected'
  /** X.509 mode: a device registered without a secret connected without its certificate (CONNACK 5). */
  | 'certificate-required';

/** The `refuse` event: a connection that never got CONNACK 0. Every connection ends with one `refuse` or one `disconnect`. */
export interface RefuseEvent {
  /** The CONNACK return code sent; absent when the connection was closed without a CONNACK. */
  readonly returnCode: RefusedReturnCode | undefined;
  readonly reason: RefuseReason;
  /** For a log: at most `MAX_EVENT_MESSAGE` characters (a long echoed value is cut), never a password or secret. */
  readonly message: string;
  readonly connection: TracedConnection;
}

/** Why an accepted connection ended. */
export type DisconnectReason =
  /** The device sent DISCONNECT. */
  | 'client-disconnect'
  /** The socket closed or failed without a DISCONNECT. */
  | 'connection-lost'
  /** Nothing arrived for 1.5 times the keepalive (section 3.1.2.10). */
  | 'keepalive-timeout'
  /** The device broke MQTT 3.1.1 [MQTT-4.8.0-1]. */
  | 'protocol-error'
  /** A QoS 2 or retained PUBLISH, or a QoS 2 flow packet: the platform has neither. */
  | 'unsupported-feature'
  /** The same device connected again; the platform keeps the newer connection. */
  | 'kicked'
  /** `emulator.close()` was called. */
  | 'server-closed'
  /** A registration connection got its answer, and the platform closed it. */
  | 'registered';

/** The `disconnect` event. */
export interface DisconnectEvent {
  readonly productKey: string;
  readonly deviceName: string;
  readonly clientId: string;
  readonly reason: DisconnectReason;
  /** For a log, as {@link RefuseEvent.message}. */
  readonly message: string;
  readonly connection: TracedConnection;
}

/** The `packet` event: one MQTT packet in or out, for traces. */
export interface PacketEvent {
  /** `in`: device to emulator; `out`: emulator to device. */
  readonly direction: 'in' | 'out';
  readonly packet: Packet;
  /** The whole frame exactly as it crossed the wire. */
  readonly bytes: Uint8Array;
  readonly connection: TracedConnection;
}

/** Why a sub-device went online or offline through its gateway. */
export type SubDeviceEventReason =
  /** The gateway logged it in (`combine/login` or `batch_login`). */
  | 'login'
  /** The gateway logged it out. */
  | 'logout'
  /** The gateway's connection ended. */
  | 'gateway-offline'
  /** The same device logged in elsewhere (427 to the gateway). */
  | 'displaced'
  /** Disabled in the console (522 to the gateway). */
  | 'disabled'
  /** Deleted in the console (521 to the gateway). */
  | 'deleted'
  /** Taken out of the gateway's topology (6401 to the gateway when the console did it). */
  | 'topology-removed'
  /** `emulator.gateway.dropSession`: the cloud forgot the session without a word. */
  | 'dropped';

/** The `subdevice` event: a sub-device went online or offline through a gateway. */
export interface SubDeviceEvent {
  readonly action: 'login' | 'logout';
  readonly reason: SubDeviceEventReason;
  readonly productKey: string;
  readonly deviceName: string;
  readonly gateway: { readonly productKey: string; readonly deviceName: string };
  /** The gateway's connection. */
  readonly connection: TracedConnection;
}
/** What happened to a device's kept session (Clean Session 0); see `docs/emulator.md`, Sessions. */
export interface SessionEvent {
  /**
   * `kept`: its connection ended and the session stays [MQTT-3.1.2-4]. `resumed`: a CONNECT with
   * Clean Session 0 and the same clientId took it back, Session Present 1 [MQTT-3.2.2-2].
   * `discarded`: a CONNECT with Clean Session 1 [MQTT-3.1.2-6], or another clientId, ended it.
   * `expired`: the device stayed away longer than `sessions.expiry`. `dropped`: a QoS 1 message it
   * could not keep (a limit, `sessions.messageExpiry`); `message` names the topic and the limit.
   */
  readonly action: 'kept' | 'resumed' | 'discarded' | 'expired' | 'dropped';
  readonly productKey: string;
  readonly deviceName: string;
  /** The bare clientId that names the session. */
  readonly clientId: string;
  /** Topic filters the session holds. */
  readonly subscriptions: number;
  /** QoS 1 messages it holds for the device: unacknowledged, and queued while it was away. */
  readonly messages: number;
  /** For a log, as {@link RefuseEvent.message}. */
  readonly message: string;
}

/** Event names and their listener arguments. */
export type EmulatorEvents = {
  connect: [EmulatorConnection];
  /** A sub-device went online or offline through a gateway. */
  subdevice: [SubDeviceEvent];
  refuse: [RefuseEvent];
  disconnect: [DisconnectEvent];
  /** A kept session (Clean Session 0) was kept, resumed, discarded or expired, or let a message go. */
  session: [SessionEvent];
  packet: [PacketEvent];
  /** A registration succeeded (never carries the secret or token). */
  register: [RegisterEvent];
  /** An OTA job changed: made, sent to the device, progress, succeeded, failed, cancelled. */
  ota: [OtaJobEvent];
  /** A request to the HTTPS server ended (a file download, whole or cut). */
  http: [HttpLogEntry];
  /** Server-level failures only (the listening socket); a misbehaving device never causes one. */
  error: [Error];
};
