/**
 * Sub-device sessions over the gateway's connection: login, batch login and logout (the
 * platform's limits checked before sending), each sub-device's state (online; returning, while
 * the gateway logs it in again; offline), and the rounds that log sub-devices in again by
 * themselves after a reconnect, a 520 or an enable. Formats: docs/platform-formats.md section 5.
 */
import { checkOnlineCapacity, inBatches } from '../aliyun/gateway/limits.js';
import { buildBatchLogin, buildBatchLogout, buildSubLogin, buildSubLogout } from '../aliyun/gateway/session.js';
import { signSubDevice } from '../aliyun/gateway/sign.js';
import type { SubDeviceCredentials } from '../aliyun/gateway/sign.js';
import { checkIdentity, identityKey } from '../aliyun/wire/identity.js';
import type { DeviceIdentity } from '../aliyun/wire/identity.js';
import { ConfigurationError } from '../shared/errors.js';
import { GATEWAY_REPLY_CODES } from './gateway-codes.js';
import { GatewayError, GatewayLoginError, GatewayReplyError } from './gateway-errors.js';
import type { FailedLogin } from './gateway-errors.js';
import { checkBoolean, checkList, checkOptions, prebuild } from './gateway-options.js';
import type { GatewayContext } from './gateway-options.js';
import type { GatewayRequests } from './gateway-requests.js';
import type { SharedSubscriptions } from './gateway-subscriptions.js';
import type { GatewayRequestOptions, ReloginReport, SubDeviceLoginOptions } from './gateway-types.js';
import { SubDeviceHandle } from './sub-device.js';
import type { SubDevice, SubDeviceHost, SubDeviceOfflineReason } from './sub-device.js';

/** How long a sub-device refused with 429 (five logins a minute) waits before the next try. */
const RATE_LIMIT_WAIT = 60_000;

/** @internal */
export class SubDeviceSessions {
  readonly #gateway: GatewayContext;
  /** What the handles ask of the gateway (their posts, publishes and logouts). */
  readonly #host: SubDeviceHost;
  readonly #requests: GatewayRequests;
  readonly #subscriptions: SharedSubscriptions;
  /** Every sub-device the program logged in and has not logged out, by `${pk}/${dn}`. */
  readonly #subDevices = new Map<string, SubDeviceHandle>();
  #online = 0;
  /** Sub-devices waiting for the next automatic login round. */
  readonly #returning = new Set<SubDeviceHandle>();
  #round: Promise<void> | undefined;
  /** Settles whenever a round ends, for posts waiting for their sub-device. */
  #roundEnded = deferred();

  constructor(gateway: GatewayContext, host: SubDeviceHost, requests: GatewayRequests, subscriptions: SharedSubscriptions) {
    this.#gateway = gateway;
    this.#host = host;
    this.#requests = requests;
    this.#subscriptions = subscriptions;
  }

  get onlineCount(): number {
    return this.#online;
  }

  /** Settles when the login round running now (or the next) ends. */
  get roundEnded(): Promise<void> {
    return this.#roundEnded.promise;
  }

  /** The handle of a sub-device the program logged in and has not logged out, by `${pk}/${dn}`. */
  get(key: string): SubDeviceHandle | undefined {
    return this.#subDevices.get(key);
  }

  handles(): SubDeviceHandle[] {
    return [...this.#subDevices.values()];
  }

  // -------------------------------------------------------------------------------------------
  // What the program asks

  async login(subDevice: SubDeviceCredentials, options: SubDeviceLoginOptions): Promise<SubDevice> {
    const cleanSession = this.#cleanSession(options);
    signSubDevice(subDevice); // refuses credentials that cannot be signed, before anything is sent
    const handle = this.#handleFor(subDevice);
    if (handle.state === 'online') return handle;
    checkOnlineCapacity(this.#online + this.#returning.size, handle.state === 'returning' ? 0 : 1);
    await this.#subscriptions.forProducts([handle]);
    const timestamp = Date.now();
    const signMethod = this.#gateway.settings.signMethod;
    const build = (id: string): string => buildSubLogin({ id, subDevice: handle.credentials, cleanSession, signMethod, timestamp });
    await this.#requests.request('login', prebuild(build), options);
    this.#cameOnline(handle);
    return handle;
  }

  async loginAll(subDevices: readonly SubDeviceCredentials[], options: SubDeviceLoginOptions): Promise<SubDevice[]> {
    checkList('subDevices', subDevices);
    const cleanSession = this.#cleanSession(options);
    const seen = new Set<string>();
    subDevices.forEach((credentials, i) => {
      const { productKey, deviceName } = checkIdentity(credentials, `subDevices[${i}]`);
      signSubDevice(credentials); // refuses credentials that cannot be signed, before anything is sent
      const key = identityKey({ productKey, deviceName });
      if (seen.has(key)) throw new ConfigurationError(`subDevices[${i}]`, `${key} appears twice; list each sub-device once`);
      seen.add(key);
    });
    const handles = subDevices.map((credentials) => this.#handleFor(credentials));
    const arriving = handles.filter((handle) => handle.state !== 'online');
    checkOnlineCapacity(this.#online + this.#returning.size, arriving.filter((handle) => handle.state === 'offline').length);
    const { failed } = await this.#loginInBatches(arriving, cleanSession, options.timeout);
    if (failed.length > 0) throw new GatewayLoginError(handles.filter((handle) => handle.state === 'online'), failed);
    return handles;
  }

  async logout(subDevice: DeviceIdentity, options: GatewayRequestOptions): Promise<void> {
    const { productKey, deviceName } = checkIdentity(subDevice, 'subDevice');
    const build = prebuild((id) => buildSubLogout({ id, subDevice: { productKey, deviceName } }));
    await this.#requests.request('logout', build, options);
    this.#loggedOut(identityKey({ productKey, deviceName }));
  }

  async logoutAll(subDevices: readonly DeviceIdentity[], options: GatewayRequestOptions): Promise<void> {
    checkList('subDevices', subDevices);
    const identities = subDevices.map((device, i) => checkIdentity(device, `subDevices[${i}]`));
    const messages = inBatches(identities).map((batch) => ({ batch, build: prebuild((id) => buildBatchLogout({ id, subDevices: batch })) }));
    for (const { batch, build } of messages) {
      await this.#requests.request('batch-logout', build, options);
      for (const device of batch) this.#loggedOut(identityKey(device));
    }
  }

  // -------------------------------------------------------------------------------------------
  // Sub-device states

  /** Takes a sub-device offline for good (until the program or an enable logs it in); its posts fail. */
  goOffline(handle: SubDeviceHandle | undefined, reason: SubDeviceOfflineReason): void {
    if (handle === undefined || (this.#gateway.ending && reason !== 'gateway-ended')) return;
    if (handle.state === 'offline') {
      // Already offline: only why changes (disabled, then deleted, is deleted).
      handle.reason = reason;
      return;
    }
    if (handle.state === 'online') this.#online--;
    this.#returning.delete(handle);
    handle.state = 'offline';
    handle.reason = reason;
    this.#requests.posts.rejectAll((id, what) => new GatewayError('not-logged-in', `${what} of ${handle.key} (id ${id}) failed: the sub-device went offline (${reason})`), handle);
    handle.emit('offline', reason);
  }

  /** Takes a sub-device offline for a while: the next login round brings it back. */
  returnLater(handle: SubDeviceHandle, reason: SubDeviceOfflineReason): void {
    if (!this.#gateway.settings.relogin) {
      this.goOffline(handle, reason);
      return;
    }
    if (handle.state === 'online') this.#online--;
    const was = handle.state;
    handle.state = 'returning';
    handle.reason = reason;
    this.#returning.add(handle);
    if (was === 'online') handle.emit('offline', reason);
    if (this.#gateway.client.connected) this.#startRound();
  }

  /** The gateway's connection went down: its sub-devices' sessions end with it. */
  connectionLost(): void {
    for (const handle of this.#subDevices.values()) if (handle.state === 'online') this.returnLater(handle, 'gateway-offline');
  }

  /** A new connection: every sub-device on its way back is logged in again. */
  reconnected(): void {
    if (this.#returning.size > 0) this.#startRound();
  }

  /** The gateway ended: every sub-device goes offline, no round runs again. */
  stop(): void {
    for (const handle of this.#subDevices.values()) this.goOffline(handle, 'gateway-ended');
    this.#returning.clear();
    this.#roundEnded.resolve();
  }

  /** The handle of `credentials`' sub-device, made on first use; a later login's credentials replace the earlier ones. */
  #handleFor(credentials: SubDeviceCredentials): SubDeviceHandle {
    const key = identityKey(credentials);
    let handle = this.#subDevices.get(key);
    if (handle === undefined) {
      handle = new SubDeviceHandle(this.#host, credentials, key);
      this.#subDevices.set(key, handle);
    } else {
      handle.credentials = credentials;
    }
    return handle;
  }

  #cameOnline(handle: SubDeviceHandle): void {
    const was = handle.state;
    this.#returning.delete(handle);
    if (was === 'online') return;
    handle.state = 'online';
    handle.reason = undefined;
    this.#online++;
    if (was === 'returning') handle.emit('online');
  }

  #loggedOut(key: string): void {
    const handle = this.#subDevices.get(key);
    if (handle === undefined) return;
    this.goOffline(handle, 'logout');
    this.#subDevices.delete(key);
  }

  // -------------------------------------------------------------------------------------------
  // Logging in, by the program and by itself

  /** Starts a login round for every returning sub-device, unless one runs (it picks them up). */
  #startRound(): void {
    if (this.#round !== undefined || this.#gateway.ending) return;
    // One turn of the event loop later, so that notices arriving together go in one batch.
    this.#round = new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.#loginRound());
  }

  async #loginRound(): Promise<void> {
    const gateway = this.#gateway;
    try {
      while (this.#returning.size > 0 && gateway.client.connected && !gateway.ending) {
        const handles = [...this.#returning];
        this.#returning.clear();
        const report = await this.#loginInBatches(handles, gateway.settings.cleanSession, undefined);
        gateway.emit('relogin', report);
      }
    } catch (error) {
      gateway.report(error as Error);
    } finally {
      this.#round = undefined;
      const ended = this.#roundEnded;
      this.#roundEnded = deferred();
      ended.resolve();
    }
  }

  /**
   * Logs `handles` in with batch logins of 50, one after the other. A refused batch is sent once
   * more without the sub-devices its refusal names; a 429 sends the sub-devices concerned back to
   * wait a minute. Sub-devices that do not get in go offline (reason `relogin-failed` for those
   * that were returning).
   */
  async #loginInBatches(handles: readonly SubDeviceHandle[], cleanSession: boolean, timeout: number | undefined): Promise<ReloginReport> {
    const loggedIn: SubDevice[] = [];
    const failed: FailedLogin[] = [];
    await this.#subscriptions.forProducts(handles).catch((error: Error) => {
      for (const handle of handles) {
        const failure = this.#loginFailed(handle, error);
        if (failure !== undefined) failed.push(failure);
      }
      handles = [];
    });
    for (const batch of inBatches(handles)) {
      let pending = batch;
      for (let attempt = 0; attempt < 2 && pending.length > 0; attempt++) {
        try {
          await this.#batchLogin(pending, cleanSession, timeout);
          for (const handle of pending) {
            this.#cameOnline(handle);
            loggedIn.push(handle);
          }
          pending = [];
        } catch (error) {
          const named = error instanceof GatewayReplyError ? new Set(error.subDevices.map(identityKey)) : new Set<string>();
          const atFault = named.size === 0 || attempt === 1 ? pending : pending.filter((handle) => named.has(handle.key));
          for (const handle of atFault) {
            const failure = this.#loginFailed(handle, error as Error);
            if (failure !== undefined) failed.push(failure);
          }
          pending = pending.filter((handle) => !atFault.includes(handle));
        }
      }
    }
    return { loggedIn, failed };
  }

  async #batchLogin(handles: readonly SubDeviceHandle[], cleanSession: boolean, timeout: number | undefined): Promise<void> {
    const timestamp = Date.now();
    const signMethod = this.#gateway.settings.signMethod;
    const subDevices = handles.map((handle) => handle.credentials);
    await this.#requests.request('batch-login', (id) => buildBatchLogin({ id, subDevices, cleanSession, signMethod, timestamp }), { timeout });
  }

  /**
   * A sub-device that did not get in: offline with `error`; or, for one on its way back, kept for
   * the next round when the connection dropped meanwhile (`undefined`: not a failure yet), or
   * again in a minute after a 429.
   */
  #loginFailed(handle: SubDeviceHandle, error: Error): FailedLogin | undefined {
    const gateway = this.#gateway;
    if (handle.state === 'returning' && !gateway.client.connected && !gateway.ending) {
      this.#returning.add(handle);
      return undefined;
    }
    if (error instanceof GatewayReplyError && error.code === GATEWAY_REPLY_CODES.tooManyRequests && handle.state === 'returning') {
      // Five logins a minute: try this one again once the minute has passed.
      const clock = gateway.client.options.clock;
      clock.setTimeout(() => {
        if (handle.state === 'returning' && !gateway.ending) {
          this.#returning.add(handle);
          if (gateway.client.connected) this.#startRound();
        }
      }, RATE_LIMIT_WAIT);
    } else {
      this.goOffline(handle, handle.state === 'returning' ? 'relogin-failed' : 'not-logged-in');
    }
    return { productKey: handle.productKey, deviceName: handle.deviceName, error };
  }

  #cleanSession(options: SubDeviceLoginOptions): boolean {
    checkOptions(options);
    return options.cleanSession === undefined ? this.#gateway.settings.cleanSession : checkBoolean('cleanSession', options.cleanSession);
  }
}

function deferred(): { readonly promise: Promise<void>; readonly resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}
