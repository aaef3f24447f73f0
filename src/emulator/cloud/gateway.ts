/**
 * The gateway's cloud side, as the platform's other services and the test API see it: where a
 * gateway's requests and its sub-devices' messages go, and the console's actions on topology and
 * devices. The work is done by gateway-topology.ts (topology and sub-device registration),
 * gateway-sessions.ts (sub-device logins, logouts and packed posts) and gateway-notices.ts (what
 * the platform tells a gateway: `thing.topo.change`, `/ext/error/{gateway}`, lifecycle notices).
 * Formats and codes: docs/platform-formats.md sections 4 to 6, `src/device/gateway-codes.ts`.
 */
import type { AlinkReply } from '../../aliyun/alink/payload.js';
import { buildAlinkReply } from '../../aliyun/alink/payload.js';
import { readRequestId } from '../../aliyun/alink/request-id.js';
import type { AlinkTopic } from '../../aliyun/alink/topics.js';
import {
  parseBatchLogin,
  parseBatchLogout,
  parseHistoryPost,
  parseSubLogin,
  parseSubLogout,
  parseSubRegister,
  parseTopoAdd,
  parseTopoDelete,
} from '../../aliyun/cloud-formats.js';
import type { LifecycleAction } from '../../aliyun/gateway/index.js';
import { GATEWAY_LIMITS } from '../../aliyun/gateway/limits.js';
import { parseServiceTopic } from '../../aliyun/service-topics.js';
import type { ParsedServiceTopic } from '../../aliyun/service-topics.js';
import type { DeviceIdentity } from '../../aliyun/wire/identity.js';
import { GATEWAY_REPLY_CODES as CODES, GATEWAY_REPLY_MESSAGES } from '../../device/gateway-codes.js';
import { EmulatorError } from '../errors.js';
import type { OnlineDevice } from '../presence.js';
import type { RegisteredDevice } from '../registry.js';
import type { Session } from '../session.js';
import type { EmulatorGateway, EmulatorTopology } from '../types.js';
import { identity, NO_ID, refusal, refuse } from './gateway-answers.js';
import type { Answer } from './gateway-answers.js';
import { GatewayNotices } from './gateway-notices.js';
import type { GatewayHost } from './gateway-notices.js';
import { SubDeviceSessions } from './gateway-sessions.js';
import { GatewayTopology } from './gateway-topology.js';
import type { CloudContext, CloudService } from './service.js';

export type { GatewayHost } from './gateway-notices.js';

/** The session topics, which the platform serves at QoS 0 only (page 89300). */
const SESSION_KINDS: ReadonlySet<string> = new Set(['login', 'batch-login', 'logout', 'batch-logout']);

export class GatewayCloud implements CloudService, EmulatorGateway {
  readonly #cloud: CloudContext;
  readonly #host: GatewayHost;
  readonly #notices: GatewayNotices;
  readonly #topology: GatewayTopology;
  readonly #sessions: SubDeviceSessions;

  constructor(cloud: CloudContext, host: GatewayHost, topology: readonly EmulatorTopology[]) {
    this.#cloud = cloud;
    this.#host = host;
    this.#notices = new GatewayNotices(cloud, host);
    this.#topology = new GatewayTopology(host, this.#notices, topology);
    this.#sessions = new SubDeviceSessions(cloud.clock, host, this.#topology, this.#notices);
  }

  // -------------------------------------------------------------------------------------------
  // What devices publish

  /**
   * A PUBLISH of `device` on a topic that is not one of its own thing-model topics: a gateway's
   * service request, or a message of one of its sub-devices. Returns the sub-device when the
   * topic is one of a sub-device online through `device`, for the thing model to read; a
   * sub-device of its topology without a session gets the platform's 520 notice instead.
   */
  received(device: OnlineDevice, topic: string, payload: Uint8Array): OnlineDevice | undefined {
    const service = parseServiceTopic(topic);
    const owner = service ?? ownerOf(topic);
    if (owner === undefined) return undefined;
    if (owner.productKey === device.topics.productKey && owner.deviceName === device.topics.deviceName) {
      if (service !== undefined) this.#serviceRequest(device, service, topic, payload);
      return undefined;
    }
    const subDevice = this.#host.presence.subDevice(device, owner.productKey, owner.deviceName);
    if (service?.reply === true && service.kind.startsWith('thing-')) {
      this.#notices.settle(topic, payload);
      return undefined;
    }
    if (subDevice !== undefined) return subDevice;
    if (this.#topology.has(device.topics, owner)) {
      const id = readRequestId(payload) ?? NO_ID;
      this.#notices.notice(device, owner, CODES.noSession, 'device session error', id);
    }
    return undefined;
  }

  /** Whether `topic` belongs to a sub-device online through a gateway: the platform sends those at QoS 0. */
  isSubDeviceTopic(topic: string): boolean {
    const owner = parseServiceTopic(topic) ?? ownerOf(topic);
    return owner !== undefined && this.#host.presence.lookup(owner.productKey, owner.deviceName)?.gateway !== undefined;
  }

  /** Presence ended `subDevice`'s session because it logged in elsewhere: tell its gateway (427). */
  displaced(subDevice: OnlineDevice): void {
    this.#sessions.displaced(subDevice);
  }

  /** A gateway's connection ended, taking `subDevices` offline with it. */
  gatewayGone(subDevices: readonly OnlineDevice[]): void {
    this.#sessions.gatewayGone(subDevices);
  }

  published(_device: OnlineDevice, _topic: string, _kind: AlinkTopic, _payload: Uint8Array): void {
    // The gateway's requests are not thing-model topics; they come through received().
  }

  disconnected(session: Session, error: EmulatorError): void {
    this.#notices.rejectAll(error, session);
  }

  closing(error: EmulatorError): void {
    this.#notices.rejectAll(error);
  }

  // -------------------------------------------------------------------------------------------
  // The test API: what the console does

  topology(productKey: string, deviceName: string): DeviceIdentity[] {
    return this.#topology.subDevicesOf({ productKey, deviceName });
  }

  subDevicesOnline(productKey: string, deviceName: string): DeviceIdentity[] {
    const gateway = this.#host.presence.lookup(productKey, deviceName);
    if (gateway === undefined || gateway.gateway !== undefined) return [];
    return this.#host.presence.subDevicesOf(gateway).map(({ topics }) => identity(topics));
  }

  addTopology(productKey: string, deviceName: string, subDevices: readonly DeviceIdentity[]): void {
    const gateway = this.#registered({ productKey, deviceName }, 'gateway');
    const added = subDevices.map((subDevice, i) => identity(this.#registered(subDevice, `subDevices[${i}]`)));
    for (const subDevice of added) this.#topology.add(gateway, subDevice);
    this.#notices.topologyChange(gateway, 'created', added);
  }

  removeTopology(productKey: string, deviceName: string, subDevices: readonly DeviceIdentity[]): void {
    const gateway = identity(this.#registered({ productKey, deviceName }, 'gateway'));
    const removed = subDevices.filter((subDevice) => this.#topology.remove(gateway, subDevice, CODES.topologyNotFound));
    this.#notices.topologyChange(gateway, 'deleted', removed);
  }

  disable(productKey: string, deviceName: string): void {
    const device = this.#registered({ productKey, deviceName }, 'device');
    device.status = 'disabled';
    this.#sessions.forceOffline(device, CODES.deviceForbidden, 'disabled');
    const gateway = this.#topology.gatewayOf(device);
    if (gateway !== undefined) this.#notices.topologyChange(gateway, 'disabled', [identity(device)]);
  }

  enable(productKey: string, deviceName: string): void {
    const device = this.#registered({ productKey, deviceName }, 'device');
    if (device.status === 'deleted') throw new EmulatorError('not-connected', `device ${deviceName} of product ${productKey} was deleted; it cannot be enabled`);
    device.status = 'enabled';
    const gateway = this.#topology.gatewayOf(device);
    if (gateway !== undefined) this.#notices.topologyChange(gateway, 'enabled', [identity(device)]);
  }

  delete(productKey: string, deviceName: string): void {
    const device = this.#registered({ productKey, deviceName }, 'device');
    device.status = 'deleted';
    this.#sessions.forceOffline(device, CODES.deviceDeleted, 'deleted');
    const gateway = this.#topology.gatewayOf(device);
    if (gateway !== undefined && this.#topology.forget(gateway, device)) this.#notices.topologyChange(gateway, 'deleted', [identity(device)]);
  }

  dropSession(productKey: string, deviceName: string): boolean {
    return this.#sessions.drop(productKey, deviceName);
  }

  notify(productKey: string, deviceName: string, action: LifecycleAction, timeoutMs = 10_000): Promise<AlinkReply> {
    return this.#notices.notify(productKey, deviceName, action, timeoutMs);
  }

  // -------------------------------------------------------------------------------------------
  // The gateway's requests

  #serviceRequest(gateway: OnlineDevice, service: ParsedServiceTopic, topic: string, payload: Uint8Array): void {
    if (service.reply) {
      if (service.kind === 'topo-change') this.#notices.settle(topic, payload);
      return;
    }
    const replyTopic = `${topic}_reply`;
    const qos = SESSION_KINDS.has(service.kind) ? GATEWAY_LIMITS.sessionQos : undefined;
    const answer = (reply: Answer): void => this.#cloud.send(replyTopic, buildAlinkReply(reply), qos);
    try {
      const handled = this.#handle(gateway, service.kind, payload);
      if (handled !== undefined) answer(handled);
    } catch (error) {
      // Only the strict readers throw here: the request cannot be read, 460 as the platform answers.
      answer({ id: readRequestId(payload) ?? NO_ID, code: CODES.requestParameterError, message: `${GATEWAY_REPLY_MESSAGES[460]}: ${(error as Error).message}` });
    }
  }

  /** The answer to one request, or `undefined` for a topic that is not a gateway request. */
  #handle(gateway: OnlineDevice, kind: ParsedServiceTopic['kind'], payload: Uint8Array): Answer | undefined {
    switch (kind) {
      case 'topo-add': {
        const { id, subDevices } = parseTopoAdd(payload);
        return this.#topology.topoAdd(gateway, id, subDevices);
      }
      case 'topo-get':
        return this.#topology.topoGet(gateway, readRequestId(payload) ?? NO_ID);
      case 'topo-delete': {
        const { id, subDevices } = parseTopoDelete(payload);
        return this.#topology.topoDelete(gateway, id, subDevices);
      }
      case 'sub-register': {
        const { id, subDevices } = parseSubRegister(payload);
        return this.#topology.subRegister(gateway, id, subDevices);
      }
      case 'login': {
        const { id, subDevice } = parseSubLogin(payload);
        const answer = this.#sessions.login(gateway, id, [subDevice]);
        return answer.code === undefined ? { id, data: identity(subDevice) } : answer;
      }
      case 'batch-login': {
        const { id, subDevices } = parseBatchLogin(payload);
        return this.#sessions.login(gateway, id, subDevices);
      }
      case 'logout': {
        const { id, subDevice } = parseSubLogout(payload);
        const answer = this.#sessions.logout(gateway, id, [subDevice]);
        return answer.code === undefined ? { id, data: subDevice } : answer;
      }
      case 'batch-logout': {
        const { id, subDevices } = parseBatchLogout(payload);
        return this.#sessions.logout(gateway, id, subDevices);
      }
      case 'pack-post':
        return this.#sessions.packPost(gateway, payload);
      case 'history-post': {
        const { id, entries } = parseHistoryPost(payload);
        const strangers = entries.filter((entry) => !this.#topology.speaksFor(gateway, entry));
        if (strangers.length > 0) return refusal(id, strangers.map((device) => refuse(device, CODES.topologyNotFound)));
        return { id, data: {} };
      }
      default:
        return undefined;
    }
  }

  #registered(device: DeviceIdentity, field: string): RegisteredDevice {
    const registered = this.#host.registry.get(device.productKey, device.deviceName);
    if (registered === undefined) {
      throw new EmulatorError('not-connected', `${field}: device ${device.deviceName} of product ${device.productKey} is not registered; list it in the emulator's devices`);
    }
    return registered;
  }
}

/** The device whose topic this is: `/sys/{pk}/{dn}/...` or `/{pk}/{dn}/user/...`. */
function ownerOf(topic: string): DeviceIdentity | undefined {
  const levels = topic.split('/');
  if (levels[0] !== '' || levels.length < 5) return undefined;
  if (levels[1] === 'sys') return { productKey: levels[2]!, deviceName: levels[3]! };
  if (levels[3] === 'user') return { productKey: levels[1]!, deviceName: levels[2]! };
  return undefined;
}
