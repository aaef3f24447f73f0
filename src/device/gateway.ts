/**
 * A gateway on the platform: one connection (`connectDevice`) that speaks for many sub-devices.
 * Topology (add, each sub-device signed with its own secret; get; delete; the cloud's change
 * notices), sub-device registration, sub-device sessions (login, batch login, logout; the
 * platform's limits checked before sending; the cloud's notices; logging them all in again after
 * a reconnect, by itself), the packed and history posts, and a {@link SubDevice} handle per
 * logged-in sub-device over ONE shared subscription set (see `gateway-topics.ts`).
 *
 * Formats and rules: docs/platform-formats.md sections 4 to 6 and docs/gateway.md.
 */
import { EventEmitter } from 'node:events';
import type { AlinkReply } from '../aliyun/alink/payload.js';
import type { HistoryEntry } from '../aliyun/gateway/pack.js';
import type { SubDeviceCredentials } from '../aliyun/gateway/sign.js';
import type { RegisteredSubDevice } from '../aliyun/gateway/topology.js';
import { identityKey } from '../aliyun/wire/identity.js';
import type { DeviceIdentity } from '../aliyun/wire/identity.js';
import type { EndOptions, EndReport, MqttClient } from '../client/client.js';
import { debug } from '../shared/builtins.js';
import type { SignMethod } from '../sign/types.js';
import { connectDevice } from './device.js';
import type { ConnectDeviceOptions, PostOptions } from './device-options.js';
import type { Device } from './device-types.js';
import { GatewayDispatch } from './gateway-dispatch.js';
import { GatewayError } from './gateway-errors.js';
import { resolveGatewayOptions } from './gateway-options.js';
import type { GatewayContext, GatewaySettings } from './gateway-options.js';
import { GatewayPosts } from './gateway-posts.js';
import { GatewayRequests } from './gateway-requests.js';
import { SubDeviceSessions } from './gateway-sessions.js';
import { SharedSubscriptions } from './gateway-subscriptions.js';
import type { GatewaySubscriptions } from './gateway-topics.js';
import { GatewayTopology } from './gateway-topology.js';
import type {
  Gateway,
  GatewayEvents,
  GatewayOptions,
  GatewayPackInput,
  GatewayRequestOptions,
  SubDeviceLoginOptions,
} from './gateway-types.js';
import type { SubDevice, SubDeviceHandle, SubDeviceHost } from './sub-device.js';

/**
 * Connects the gateway as a device (`connectDevice(deviceOptions)`) and makes it a gateway
 * ({@link createGateway}). With `subscriptions: 'wildcard'` the device subscribes nothing of its
 * own: the shared filters cover its topics too.
 *
 * @example
 * const gateway = await connectGateway({ productKey, deviceName, deviceSecret, endpoint: 'ipv6-test' });
 * await gateway.addTopology([meter]);
 * const sub = await gateway.login(meter);
 * await sub.postProperties({ Power: 12.5 });
 */
export async function connectGateway(deviceOptions: ConnectDeviceOptions, options: GatewayOptions = {}): Promise<Gateway> {
  const settings = resolveGatewayOptions(options);
  const device = await connectDevice(settings.subscriptions === 'wildcard' ? { ...deviceOptions, subscribe: false } : deviceOptions);
  try {
    return await startGateway(device, settings);
  } catch (error) {
    await device.end({ force: true });
    throw error;
  }
}

/**
 * Makes a connected device a gateway: checks the options, subscribes the gateway's shared filters
 * (one SUBSCRIBE) and returns the handle. Messages of sub-devices arrive through `device.client`.
 *
 * @throws ConfigurationError for bad options; GatewayError `subscribe-refused`.
 */
export async function createGateway(device: Device, options: GatewayOptions = {}): Promise<Gateway> {
  return startGateway(device, resolveGatewayOptions(options));
}

async function startGateway(device: Device, settings: GatewaySettings): Promise<Gateway> {
  const gateway = new PlatformGateway(device, settings);
  await gateway.start();
  return gateway;
}

/**
 * The gateway: the handle a program holds and the host its sub-devices ask. It puts the parts
 * together, each over the same {@link GatewayContext}: requests and replies
 * (gateway-requests.ts), the shared subscriptions (gateway-subscriptions.ts), sub-device sessions
 * (gateway-sessions.ts), topology (gateway-topology.ts), posts (gateway-posts.ts), and what the
 * cloud sends (gateway-dispatch.ts).
 */
class PlatformGateway extends EventEmitter<GatewayEvents> implements Gateway, SubDeviceHost {
  readonly device: Device;
  readonly client: MqttClient;
  readonly productKey: string;
  readonly deviceName: string;
  readonly subscriptions: GatewaySubscriptions;
  readonly #requests: GatewayRequests;
  readonly #subscriptions: SharedSubscriptions;
  readonly #sessions: SubDeviceSessions;
  readonly #topology: GatewayTopology;
  readonly #posts: GatewayPosts;
  readonly #dispatch: GatewayDispatch;
  #ended = false;

  constructor(device: Device, settings: GatewaySettings) {
    super();
    this.device = device;
    this.client = device.client;
    this.productKey = device.productKey;
    this.deviceName = device.deviceName;
    this.subscriptions = settings.subscriptions;
    // What the parts share, kept off the handle the program holds.
    const gateway = this;
    const context: GatewayContext = {
      client: this.client,
      productKey: this.productKey,
      deviceName: this.deviceName,
      settings,
      get ending() {
        return gateway.#ended;
      },
      emit: (event, ...args) => this.emit(event, ...(args as never)),
      report: (error) => this.#report(error),
    };
    this.#requests = new GatewayRequests(context);
    this.#subscriptions = new SharedSubscriptions(context);
    this.#sessions = new SubDeviceSessions(context, this, this.#requests, this.#subscriptions);
    this.#topology = new GatewayTopology(context, this.#requests, this.#sessions);
    this.#posts = new GatewayPosts(context, this.#requests, this.#sessions);
    this.#dispatch = new GatewayDispatch(context, this.#requests, this.#sessions);
  }

  get onlineCount(): number {
    return this.#sessions.onlineCount;
  }

  get ending(): boolean {
    return this.#ended;
  }

  /** Listens, then subscribes the shared filters in one SUBSCRIBE. */
  async start(): Promise<void> {
    const client = this.client;
    client.on('message', (topic, payload) => this.#dispatch.received(topic, payload));
    client.on('offline', () => this.#sessions.connectionLost());
    client.on('connect', () => this.#sessions.reconnected());
    client.on('end', () => this.#stop('the client ended'));
    await this.#subscriptions.start();
  }

  // -------------------------------------------------------------------------------------------
  // Topology and registration

  addTopology(subDevices: readonly SubDeviceCredentials[], options: GatewayRequestOptions & { readonly signMethod?: SignMethod } = {}): Promise<DeviceIdentity[]> {
    return this.#topology.add(subDevices, options);
  }

  getTopology(options: GatewayRequestOptions = {}): Promise<DeviceIdentity[]> {
    return this.#topology.get(options);
  }

  deleteTopology(subDevices: readonly DeviceIdentity[], options: GatewayRequestOptions = {}): Promise<DeviceIdentity[]> {
    return this.#topology.delete(subDevices, options);
  }

  registerSubDevices(subDevices: readonly DeviceIdentity[], options: GatewayRequestOptions = {}): Promise<RegisteredSubDevice[]> {
    return this.#topology.register(subDevices, options);
  }

  // -------------------------------------------------------------------------------------------
  // Sub-device sessions

  login(subDevice: SubDeviceCredentials, options: SubDeviceLoginOptions = {}): Promise<SubDevice> {
    return this.#sessions.login(subDevice, options);
  }

  loginAll(subDevices: readonly SubDeviceCredentials[], options: SubDeviceLoginOptions = {}): Promise<SubDevice[]> {
    return this.#sessions.loginAll(subDevices, options);
  }

  logout(subDevice: DeviceIdentity, options: GatewayRequestOptions = {}): Promise<void> {
    return this.#sessions.logout(subDevice, options);
  }

  logoutAll(subDevices: readonly DeviceIdentity[], options: GatewayRequestOptions = {}): Promise<void> {
    return this.#sessions.logoutAll(subDevices, options);
  }

  subDevice(productKey: string, deviceName: string): SubDevice | undefined {
    return this.#sessions.get(identityKey({ productKey, deviceName }));
  }

  subDevices(): SubDevice[] {
    return this.#sessions.handles();
  }

  // -------------------------------------------------------------------------------------------
  // Batch posts

  postPack(input: GatewayPackInput, options: PostOptions = {}): Promise<AlinkReply> {
    return this.#posts.postPack(input, options);
  }

  postHistory(entries: readonly HistoryEntry[], options: PostOptions = {}): Promise<AlinkReply> {
    return this.#posts.postHistory(entries, options);
  }

  end(options?: EndOptions): Promise<EndReport> {
    this.#stop('end() was called');
    return this.device.end(options);
  }

  // -------------------------------------------------------------------------------------------
  // What a sub-device asks of its gateway (SubDeviceHost)

  post(subDevice: SubDeviceHandle, topic: string, replyTopic: string, method: string, params: unknown, options: PostOptions): Promise<AlinkReply> {
    return this.#posts.post(subDevice, topic, replyTopic, method, params, options);
  }

  publish(subDevice: SubDeviceHandle, topic: string, payload: Uint8Array | string, qos: 0 | 1): Promise<void> {
    return this.#posts.publish(subDevice, topic, payload, qos);
  }

  publishAnswer(topic: string, payload: Uint8Array | string): Promise<void> {
    return this.client.publish(topic, payload, { qos: 0 });
  }

  // -------------------------------------------------------------------------------------------
  // Ending, reporting

  /** Stops handling messages, fails everything waiting and takes every sub-device offline. */
  #stop(why: string): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#requests.failAll((id, what) => new GatewayError('gateway-ended', `${why} before the reply to ${what} (id ${id}) came`));
    this.#posts.stop();
    this.#sessions.stop();
  }

  #report(error: Error): void {
    if (debug.enabled) debug('gateway %s: %s', this.deviceName, error.message);
    if (this.listenerCount('error') > 0) this.emit('error', error);
  }
}
