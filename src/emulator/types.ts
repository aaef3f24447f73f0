/**
 * The public shape of the local platform stand-in: its options, the emulator handle, and the
 * events it emits.
 */
import type { Clock } from '../shared/clock.js';
import type { EventEmitter } from 'node:events';
import type { AlinkReply } from '../aliyun/alink/payload.js';
import type { Packet } from '../packet/types.js';
import type { RefusedReturnCode } from '../aliyun/connack.js';
import type { VerifyFailureReason } from '../sign/verify.js';
import type { ConfigFile } from '../aliyun/services/config.js';
import type { OtaJobEvent, OtaJobInfo, OtaJobOptions } from './cloud/ota-types.js';
import type { HttpLogEntry } from './http/server.js';
import type { DeviceCertificate } from './x509/ca.js';
import type { EmulatorSessionOptions } from './session-limits.js';

/** A device the emulator knows, as registered in the IoT Platform console. */
export interface EmulatorDevice {
  productKey: string;
  deviceName: string;
  /**
   * What the device signs with. `''`: registered but not activated; it cannot connect, log in or
   * be added to a topology until dynamic registration (`thing.sub.register`, or the device's own
   * over HTTPS or MQTT with its product's secret) gives it a secret.
   */
  deviceSecret: string;
}

/** One device's shadow, as `emulator.shadow()` returns it. */
export interface EmulatorShadow {
  readonly reported: Record<string, unknown>;
  readonly desired: Record<string, unknown>;
  /** `{ reported: { key: { timestamp } }, desired: { key: { timestamp } } }`, timestamps in seconds. */
  readonly metadata: { readonly reported: Record<string, { timestamp: number }>; readonly desired: Record<string, { timestamp: number }> };
  readonly version: number;
}

/** A product open to dynamic registration. */
export interface EmulatorProduct {
  productKey: string;
  /** Never printed. */
  productSecret: string;
}

/** The `register` event: the platform handed a device its credentials. */
export interface RegisterEvent {
  readonly productKey: string;
  readonly deviceName: string;
  /** `register`: a DeviceSecret over MQTT; `regnwl`: a clientId and token over MQTT; `https`: a DeviceSecret over HTTPS. */
  readonly authType: 'register' | 'regnwl' | 'https';
}

/**
 * X.509 mode: a device with no secret, which authenticates by the certificate the stand-in issues
 * it ({@link Emulator.issueCertificate}), as a device of an X.509 product on the platform does.
 */
export interface EmulatorCertificateDevice {
  productKey: string;
  deviceName: string;
  deviceSecret?: undefined;
}

/** A gateway and the sub-devices in its topology, as the console shows them. */
export interface EmulatorTopology {
  readonly gateway: { readonly productKey: string; readonly deviceName: string };
  readonly subDevices: ReadonlyArray<{ readonly productKey: string; readonly deviceName: string }>;
}


/** Options for {@link startEmulator}. */
export interface EmulatorOptions {
  /**
   * The devices that may connect; any other triple is refused with CONNACK 5. In X.509 mode a
   * device may have no secret: it then connects with its certificate only.
   */
  devices: Array<EmulatorDevice | EmulatorCertificateDevice>;
  /** Address to listen on. Default `'::1'`, the IPv6 loopback. */
  host?: string;
  /** Port; default 0 (the system picks a free one, read it back from `emulator.port`). */
  port?: number;
  /**
   * `true` (the default): TLS 1.2 or newer with the public loopback test certificate in
   * `certs/loopback`; devices must announce `securemode=2`. `false`: plain TCP, `securemode=3`.
   * An object: TLS with your own certificate and key; `ca` is the PEM clients must trust
   * (default: the certificate itself, which works when it is self-signed).
   */
  tls?: boolean | { cert: string | Buffer; key: string | Buffer; ca?: string | Buffer };
  /** Injectable time for tests; default the process's monotonic clock and timers. */
  clock?: Clock;
  /**
   * Milliseconds a connection has, from the moment TCP accepts it, to complete the TLS handshake
   * and send its CONNECT; default 10000. A connection that has not is closed (`refuse` reason
   * `connect-timeout`).
   */
  connectTimeout?: number;
  /**
   * The port of the stand-in's HTTPS server (OTA files), on the same host and with the same
   * certificate as MQTT; 0 for a free one. Default: started on a free port by the first OTA job.
   */
  httpPort?: number;
  /**
   * X.509 device authentication, as on the platform's X.509 endpoint (needs TLS). `true` uses the
   * stand-in's throwaway device CA in `certs/emulator` (public, test-only); an object, your own
   * device CA's certificate and key in PEM. The listener then asks each device for a certificate:
   * one this CA issued ({@link Emulator.issueCertificate}) admits the registered device it names,
   * whatever the CONNECT's password, and the device is told who it is on
   * `/ext/auth/identity/response` right after CONNACK. A device without a certificate signs in
   * with its secret as usual. Default `false`.
   */
  x509?: boolean | { cert: string | Buffer; key: string | Buffer };
  /** Answer every property post with a `post_reply` (default `true`). */
  autoReplyPropertyPost?: boolean;
  /** Answer every event post (`thing/event/{identifier}/post`) with its `post_reply` (default `true`). */
  autoReplyEventPost?: boolean;
  /**
   * Answer the device services' requests: NTP, shadow, configuration get, tags (default `true`).
   * With `false` the stores still take what the test API puts in them, but a device's requests
   * get no answer, so a test can answer them itself (`emulator.publish`), with error codes or
   * malformed JSON.
   */
  autoReplyServices?: boolean;
  /**
   * Products open to dynamic registration (one secret per product), with their ProductSecret:
   * devices listed with an empty secret register with `authType=register` (MQTT) or over HTTPS,
   * unlisted ones with `authType=regnwl` (see `docs/services.md`).
   */
  products?: EmulatorProduct[];
  /**
   * The platform's wall clock in milliseconds since the epoch, for NTP answers and shadow
   * timestamps; default `Date.now`. (`clock` runs the deadlines; this is the time of day.)
   */
  wallClock?: () => number;
  /**
   * Topology at start: gateways and their sub-devices, all listed in `devices`, each sub-device
   * under one gateway. Gateways can add more with `thing.topo.add`; tests with `emulator.gateway`.
   */
  topology?: EmulatorTopology[];
  /**
   * What the stand-in keeps for a device that connected with Clean Session 0, as the platform
   * does: how long, and how much (`docs/emulator.md`, Sessions). Defaults: a session lives seven
   * days after its connection ends, a message seven days; 1,000 messages or 4 MiB per session,
   * 100,000 messages or 64 MiB for all offline devices together.
   */
  sessions?: EmulatorSessionOptions;
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

/**
 * The console's side of gateways and sub-devices, for tests and demos: topology, device states,
 * and the notices the platform sends a gateway. Devices are named by productKey and deviceName.
 * Each method throws EmulatorError `not-connected` for a device that was never registered.
 */
export interface EmulatorGateway {
  /** The gateway's topology, in the order sub-devices were added. */
  topology(productKey: string, deviceName: string): Array<{ productKey: string; deviceName: string }>;
  /** The sub-devices online through the gateway. */
  subDevicesOnline(productKey: string, deviceName: string): Array<{ productKey: string; deviceName: string }>;
  /**
   * Adds sub-devices to a gateway's topology as the console does (moving any that were under
   * another gateway) and tells the gateway with `thing.topo.change` status 0 (created).
   */
  addTopology(productKey: string, deviceName: string, subDevices: ReadonlyArray<{ productKey: string; deviceName: string }>): void;
  /**
   * Removes sub-devices from a gateway's topology: those online are forced offline (6401 on
   * `/ext/error`), and the gateway is told with `thing.topo.change` status 1 (deleted).
   */
  removeTopology(productKey: string, deviceName: string, subDevices: ReadonlyArray<{ productKey: string; deviceName: string }>): void;
  /**
   * Disables a device: it can no longer connect or log in; a directly connected device is
   * disconnected, a sub-device online is forced offline (522), and its gateway gets
   * `thing.topo.change` status 8 (disabled).
   */
  disable(productKey: string, deviceName: string): void;
  /** Enables a disabled device; its gateway gets `thing.topo.change` status 2 (enabled). */
  enable(productKey: string, deviceName: string): void;
  /**
   * Deletes a device: a sub-device online is forced offline (521), it leaves its gateway's
   * topology (`thing.topo.change` status 1), and every later login gets 521.
   */
  delete(productKey: string, deviceName: string): void;
  /**
   * Forgets a sub-device's session without telling anyone, as after a failure on the platform's
   * side: its next message gets the 520 notice. `false` when it was not online through a gateway.
   */
  dropSession(productKey: string, deviceName: string): boolean;
  /**
   * Sends the older `thing.disable`, `thing.enable` or `thing.delete` notice (iotkit-embedded 3.x)
   * on the online device's own topic and resolves with its `_reply`; the device's state does not
   * change. Rejects as `sendPropertySet` does.
   */
  notify(productKey: string, deviceName: string, action: 'disable' | 'enable' | 'delete', timeoutMs?: number): Promise<AlinkReply>;
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

/**
 * A running local stand-in for the IoT Platform. A test and teaching fixture, not a production
 * broker: see {@link startEmulator} and `docs/emulator.md`.
 */
export interface Emulator extends EventEmitter<EmulatorEvents> {
  /** The address listened on, e.g. `'::1'`. */
  readonly host: string;
  readonly port: number;
  /** PEM a client must trust to connect over TLS; `''` over plain TCP. */
  readonly ca: string;
  /** e.g. `'mqtts://[::1]:12345'`, or `mqtt://` over plain TCP. */
  readonly url: string;
  /**
   * Publishes `thing.service.property.set` to the device and resolves with its `_reply`
   * (correlated by id). Rejects with an EmulatorError: `not-connected`, `not-subscribed`,
   * `reply-timeout` (default 10 s), `disconnected`, `closed`.
   */
  sendPropertySet(
    productKey: string,
    deviceName: string,
    params: Record<string, unknown>,
    timeoutMs?: number,
  ): Promise<AlinkReply>;
  /** Publishes `thing.service.${identifier}` to the device and resolves with its `_reply`; rejects as {@link sendPropertySet}. */
  callService(
    productKey: string,
    deviceName: string,
    identifier: string,
    params: Record<string, unknown>,
    timeoutMs?: number,
  ): Promise<AlinkReply>;
  /**
   * Publishes to `/sys/{pk}/{dn}/rrpc/request/{messageId}` and resolves with the payload the
   * device publishes on `/sys/{pk}/{dn}/rrpc/response/{messageId}`; rejects as {@link sendPropertySet}.
   */
  rrpc(productKey: string, deviceName: string, payload: Uint8Array | string, timeoutMs?: number): Promise<Uint8Array>;
  /**
   * Publishes as the cloud to every matching subscription, at the lower of `qos` and the granted
   * QoS. Resolves once every QoS 1 delivery is acknowledged; rejects with an EmulatorError
   * (`not-acknowledged`) when a subscriber's connection ends first.
   */
  publish(topic: string, payload: Uint8Array | string, qos?: 0 | 1): Promise<void>;
  /**
   * A device's shadow as the cloud keeps it (a copy): `reported`, `desired`, `metadata` and
   * `version`; empty at version 0 when nothing was written.
   *
   * @throws ConfigurationError for a device the emulator does not know.
   */
  shadow(productKey: string, deviceName: string): EmulatorShadow;
  /**
   * An application's change of the desired state (the UpdateDeviceShadow API): replaces it (or,
   * with `deltaUpdate`, merges into it, a key set to `"null"` removing it), at `version` (above
   * the shadow's; default the next one), and pushes it to the device as `control` on
   * `/shadow/get/{pk}/{dn}` when it is online and subscribed. Returns the new version.
   *
   * @throws ConfigurationError for an unknown device, a state that is not an object, or a
   *   version not above the shadow's; EmulatorError `closed`.
   */
  updateShadow(productKey: string, deviceName: string, desired: Record<string, unknown>, options?: { version?: number; deltaUpdate?: boolean }): number;
  /** The tags a device set with `thing.deviceinfo.update` (a copy). */
  tags(productKey: string, deviceName: string): Record<string, string>;
  /**
   * Makes `config` the product's configuration file, which `thing.config.get` answers with
   * (`undefined`: none, answered with empty data).
   *
   * @throws ConfigurationError naming the field of a description the platform would not send.
   */
  setConfig(productKey: string, config: ConfigFile | undefined): void;
  /**
   * Pushes the product's configuration file (after making `config` the product's, when given) to
   * the device as `thing.config.push` and resolves with its `push_reply`, whatever its code.
   * Rejects as {@link Emulator.sendPropertySet} does, and with ConfigurationError when the
   * product has no configuration file.
   */
  pushConfig(productKey: string, deviceName: string, config?: ConfigFile, timeoutMs?: number): Promise<AlinkReply>;
  /**
   * Serves `content` as the product's configuration file on the stand-in's HTTPS server (started
   * if it is not yet) at an unguessable path, makes it the product's (what `thing.config.get`
   * answers), and resolves with its description, ready for `pushConfig`. Digest `sha256` unless
   * `signMethod` says `md5`.
   *
   * @throws ConfigurationError for content that is not text or bytes; EmulatorError `closed`.
   */
  publishConfig(productKey: string, content: string | Uint8Array, options?: { configId?: string; signMethod?: 'sha256' | 'md5' }): Promise<ConfigFile>;
  /**
   * X.509 mode: issues a registered device a certificate and key (PEM) under the device CA, as
   * the platform's console does for a device of an X.509 product. A device connecting with them
   * is admitted as that device. Throws EmulatorError `x509-off` without X.509 mode and
   * `not-registered` for a device not in `devices`.
   */
  issueCertificate(productKey: string, deviceName: string): DeviceCertificate;
  /** The accepted connections, oldest first. */
  connections(): EmulatorConnection[];
  /**
   * The HTTPS server (OTA files), once started (`httpPort`, or the first OTA job): its URL
   * (`https://[::1]:port`), port, and the CA a client must trust.
   */
  readonly https: { readonly url: string; readonly port: number; readonly ca: string } | undefined;
  /**
   * Makes an OTA upgrade job for a device's module, serves its file over HTTPS, and pushes it on
   * `/ota/device/upgrade/{pk}/{dn}` if the device is online and subscribed; otherwise the job
   * waits (QUEUED) for the device's next version report or firmware query. Resolves with the job.
   *
   * @throws ConfigurationError for bad options, an unknown device or an unreadable file;
   *   EmulatorError `ota-job-active` when that module has an open job, `closed`.
   */
  pushOtaJob(options: OtaJobOptions): Promise<OtaJobInfo>;
  /** Cancels an open job (its file is no longer served); EmulatorError `ota-job-unknown` for an unknown id. */
  cancelOtaJob(id: number): OtaJobInfo;
  /** Every OTA job made, oldest first, as it stands now. */
  otaJobs(): OtaJobInfo[];
  /** The OTA module versions a device reported on `/ota/device/inform`, by module. */
  otaVersions(productKey: string, deviceName: string): Record<string, string>;
  /** Gateways, sub-devices and device states, as the console would change them. */
  readonly gateway: EmulatorGateway;
  /** Ends every connection and stops listening; resolves when all is closed. */
  close(): Promise<void>;
}
