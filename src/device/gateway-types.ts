/**
 * The gateway's public shape: its options, the handle and its events. The implementation is
 * `gateway.ts` and the parts it puts together (see `gateway-options.ts`); docs/gateway.md tells
 * the rules behind each method.
 */
import type { EventEmitter } from 'node:events';
import type { AlinkReply } from '../aliyun/alink/payload.js';
import type { HistoryEntry, SubDeviceReport, ThingReport } from '../aliyun/gateway/pack.js';
import type { SubDeviceCredentials } from '../aliyun/gateway/sign.js';
import type { RegisteredSubDevice, TopoChangeStatus } from '../aliyun/gateway/topology.js';
import type { DeviceIdentity } from '../aliyun/wire/identity.js';
import type { EndOptions, EndReport, MqttClient } from '../client/client.js';
import type { SignMethod } from '../sign/types.js';
import type { PostOptions } from './device-options.js';
import type { Device } from './device-types.js';
import type { FailedLogin } from './gateway-errors.js';
import type { GatewaySubscriptions } from './gateway-topics.js';
import type { SubDevice } from './sub-device.js';

/** Options of {@link createGateway} and {@link connectGateway}. */
export interface GatewayOptions {
  /** Milliseconds a request or a sub-device's post waits for its reply, 1..2147483647; default 10000. */
  readonly replyTimeout?: number | undefined;
  /** `'wildcard'` (default) or `'per-product'`: see `gateway-topics.ts` and docs/gateway.md. */
  readonly subscriptions?: GatewaySubscriptions | undefined;
  /** How topology adds and logins are signed; default `hmacsha256`. */
  readonly signMethod?: SignMethod | undefined;
  /** Log sub-devices in again after a reconnect, a 520 or an enable; default `true`. */
  readonly relogin?: boolean | undefined;
  /** `cleanSession` of every login; default `true` (see the login's `cleanSession`). */
  readonly cleanSession?: boolean | undefined;
}

/** Options of one gateway request. */
export interface GatewayRequestOptions {
  /** Milliseconds to wait for the reply; default the gateway's `replyTimeout`. */
  readonly timeout?: number | undefined;
}

/** Options of a login. */
export interface SubDeviceLoginOptions extends GatewayRequestOptions {
  /**
   * `true` (default: the gateway's `cleanSession`) drops QoS 1 messages the platform kept for the
   * sub-device while it was offline; `false` has them delivered after the login.
   */
  readonly cleanSession?: boolean | undefined;
}

/** The gateway's packed post: its own properties and events and those of up to 20 sub-devices. */
export interface GatewayPackInput extends ThingReport {
  readonly subDevices?: readonly SubDeviceReport[] | undefined;
}

/** What a notice from the cloud says happened to a sub-device. */
export type SubDeviceNoticeKind = 'no-session' | 'kicked' | 'disabled' | 'enabled' | 'deleted' | 'topology-removed' | 'topology-added' | 'other';

/** A notice from the cloud about one sub-device (a `/ext/error` notice, a topology change, a lifecycle notice). */
export interface SubDeviceNotice extends DeviceIdentity {
  readonly kind: SubDeviceNoticeKind;
  /** The `/ext/error` code (427, 520, 521, 522, 6401, ...), when the notice carried one. */
  readonly code: number | undefined;
  readonly message: string | undefined;
}

/** What an automatic login round (after a reconnect, a 520 or an enable) came to. */
export interface ReloginReport {
  readonly loggedIn: readonly SubDevice[];
  readonly failed: readonly FailedLogin[];
}

/** The gateway's events. */
export interface GatewayEvents {
  /** `thing.topo.change` from the cloud, already answered with 200. */
  topology: [change: { readonly status: TopoChangeStatus; readonly subDevices: readonly DeviceIdentity[] }];
  /** A notice about one sub-device; the sub-device itself emits `offline`/`online` as it goes. */
  notice: [notice: SubDeviceNotice];
  /** An automatic login round finished. */
  relogin: [report: ReloginReport];
  /**
   * Something the gateway handled on its own went wrong: an unreadable notice or reply, a
   * restored subscription refused, a login round that failed. Without a listener these go to the
   * `NODE_DEBUG=aliot` log only.
   */
  error: [error: Error];
}

/** A gateway; see {@link connectGateway}. */
export interface Gateway extends EventEmitter<GatewayEvents> {
  /** The gateway as a device of its own: its posts, handlers, and `client`. */
  readonly device: Device;
  readonly client: MqttClient;
  readonly productKey: string;
  readonly deviceName: string;
  /** The subscriptions mode in use. */
  readonly subscriptions: GatewaySubscriptions;
  /** Sub-devices logged in now. */
  readonly onlineCount: number;

  /**
   * `thing.topo.add`: adds sub-devices to the gateway's topology, each signed with its own
   * DeviceSecret, in messages of at most 30; resolves with the sub-devices added.
   *
   * @throws ConfigurationError for credentials that cannot be signed, before anything is sent.
   * @throws GatewayReplyError with the platform's code (401: a signature did not verify, 6100, 6402...)
   *   naming the sub-devices at fault; the messages before the refused one stay added.
   * @throws GatewayError `reply-timeout`, `malformed-reply`, `gateway-ended`.
   */
  addTopology(subDevices: readonly SubDeviceCredentials[], options?: GatewayRequestOptions & { readonly signMethod?: SignMethod }): Promise<DeviceIdentity[]>;
  /** `thing.topo.get`: the gateway's topology. Throws as {@link Gateway.addTopology}. */
  getTopology(options?: GatewayRequestOptions): Promise<DeviceIdentity[]>;
  /**
   * `thing.topo.delete`: removes sub-devices from the topology (the platform ends their
   * sessions); resolves with what the platform removed. Throws as {@link Gateway.addTopology}.
   */
  deleteTopology(subDevices: readonly DeviceIdentity[], options?: GatewayRequestOptions): Promise<DeviceIdentity[]>;
  /**
   * `thing.sub.register`: registers sub-devices of products with dynamic registration on, and
   * resolves with their triples (each secret prints as `[redacted]`), ready for `addTopology`
   * and `login`. Throws as {@link Gateway.addTopology}.
   */
  registerSubDevices(subDevices: readonly DeviceIdentity[], options?: GatewayRequestOptions): Promise<RegisteredSubDevice[]>;

  /**
   * `combine/login`: logs one sub-device in and resolves with its handle (the same handle, with
   * its handlers, for a sub-device logged in before). One online already resolves at once.
   *
   * @throws ConfigurationError for credentials that cannot be signed, or a 2,001st sub-device
   *   online, before anything is sent.
   * @throws GatewayReplyError with the platform's code (6401 not in the topology, 6287 invalid
   *   sign, 522 disabled, 428, 429...).
   * @throws GatewayError `reply-timeout`, `malformed-reply`, `gateway-ended`, `subscribe-refused`.
   */
  login(subDevice: SubDeviceCredentials, options?: SubDeviceLoginOptions): Promise<SubDevice>;
  /**
   * `combine/batch_login` in batches of 50, one after the other: resolves with the handles in
   * the order given. A refused batch is sent again without the sub-devices the refusal names.
   *
   * @throws ConfigurationError as {@link Gateway.login}, for any of them, before anything is sent.
   * @throws GatewayLoginError when some did not get in: `loggedIn` and `failed` (each with its error).
   */
  loginAll(subDevices: readonly SubDeviceCredentials[], options?: SubDeviceLoginOptions): Promise<SubDevice[]>;
  /** `combine/logout` of one sub-device; its waiting posts fail with `not-logged-in`. */
  logout(subDevice: DeviceIdentity, options?: GatewayRequestOptions): Promise<void>;
  /** `combine/batch_logout` in batches of 50. */
  logoutAll(subDevices: readonly DeviceIdentity[], options?: GatewayRequestOptions): Promise<void>;
  /** The handle of a sub-device the program logged in (online or not), or `undefined`. */
  subDevice(productKey: string, deviceName: string): SubDevice | undefined;
  /** Every sub-device handle the program logged in and has not logged out. */
  subDevices(): SubDevice[];

  /**
   * `thing.event.property.pack.post`: the gateway's properties and events and those of up to 20
   * logged-in sub-devices in one message (at most 200 properties and 20 events in all).
   *
   * @throws ConfigurationError over the limits, before anything is sent.
   * @throws GatewayError `not-logged-in` for a sub-device that is not online.
   * @throws GatewayReplyError, GatewayError as {@link Gateway.addTopology}.
   */
  postPack(input: GatewayPackInput, options?: PostOptions): Promise<AlinkReply>;
  /** `thing.event.property.history.post`: values recorded while offline, each with its time. */
  postHistory(entries: readonly HistoryEntry[], options?: PostOptions): Promise<AlinkReply>;

  /**
   * Ends the gateway: everything waiting fails with `gateway-ended`, every sub-device goes
   * offline, then the device ends (see `Device.end`).
   */
  end(options?: EndOptions): Promise<EndReport>;
}
