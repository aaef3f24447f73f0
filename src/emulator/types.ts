/**
 * The public shape of the local platform stand-in: its options and the emulator handle. The
 * events it emits are in `events.ts`, re-exported here.
 */
import type { Clock } from '../shared/clock.js';
import type { EventEmitter } from 'node:events';
import type { AlinkReply } from '../aliyun/alink/payload.js';
import type { ConfigFile } from '../aliyun/services/config.js';
import type { OtaJobInfo, OtaJobOptions } from './cloud/ota-types.js';
import type { DeviceCertificate } from './x509/ca.js';
import type { EmulatorSessionOptions } from './session-limits.js';
import type { EmulatorConnection, EmulatorEvents } from './events.js';

export type * from './events.js';

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
