/**
 * What the platform tells a gateway unasked, and what the stand-in tells its host: `thing.topo.change`
 * (not waited for), `/ext/error/{gateway}` about one sub-device (forced offline, or sending without
 * a session), the lifecycle notices (`thing.disable`, `thing.enable`, `thing.delete`) whose answers
 * are waited for, and the `subdevice` events. Formats: docs/platform-formats.md section 6.
 */
import { AlinkIdGenerator } from '../../aliyun/alink/id.js';
import { parseAlinkReply } from '../../aliyun/alink/payload.js';
import type { AlinkReply } from '../../aliyun/alink/payload.js';
import { PendingReplies } from '../../aliyun/alink/pending.js';
import { buildLifecycleNotice, buildSessionError, buildTopoChange } from '../../aliyun/cloud-formats.js';
import type { LifecycleAction, TopoChangeStatus } from '../../aliyun/gateway/index.js';
import { GATEWAY_LIMITS } from '../../aliyun/gateway/limits.js';
import { serviceTopic } from '../../aliyun/service-topics.js';
import type { DeviceIdentity } from '../../aliyun/wire/identity.js';
import { EmulatorError } from '../errors.js';
import type { OnlineDevice, Presence } from '../presence.js';
import type { DeviceRegistry } from '../registry.js';
import type { Session } from '../session.js';
import type { SubDeviceEvent, SubDeviceEventReason } from '../types.js';
import { identity } from './gateway-answers.js';
import type { CloudContext } from './service.js';

/** What the gateway's cloud side needs of the platform beside the {@link CloudContext}. */
export interface GatewayHost {
  readonly presence: Presence;
  readonly registry: DeviceRegistry;
  /** A sub-device went online or offline through a gateway. */
  subDevice(event: SubDeviceEvent): void;
}

export class GatewayNotices {
  readonly #cloud: CloudContext;
  readonly #host: GatewayHost;
  readonly #ids = new AlinkIdGenerator();
  /** The gateways' answers to lifecycle notices sent by {@link notify}, by id. */
  readonly #replies: PendingReplies<AlinkReply>;

  constructor(cloud: CloudContext, host: GatewayHost) {
    this.#cloud = cloud;
    this.#host = host;
    this.#replies = new PendingReplies(cloud.clock);
  }

  /** A lifecycle notice to `deviceName`, answered on its `_reply` within `timeoutMs`. */
  async notify(productKey: string, deviceName: string, action: LifecycleAction, timeoutMs: number): Promise<AlinkReply> {
    const subDevice = this.#cloud.target(productKey, deviceName, timeoutMs);
    const kind = `thing-${action}` as const;
    const topic = serviceTopic(kind, subDevice.topics);
    const replyTopic = serviceTopic(kind, subDevice.topics, { reply: true });
    const id = this.#ids.next();
    const reply = this.#replies.wait(id, {
      topic: replyTopic,
      timeout: timeoutMs,
      what: `thing.${action}`,
      owner: subDevice.session,
      onTimeout: () => new EmulatorError('reply-timeout', `no answer to thing.${action} (id ${id}) on ${replyTopic} within ${timeoutMs} ms`),
    });
    this.#cloud.send(topic, buildLifecycleNotice({ id, action }));
    return reply;
  }

  /** A reply to a notice this side sent; unreadable ones answer nothing. */
  settle(topic: string, payload: Uint8Array): void {
    let reply: AlinkReply;
    try {
      reply = parseAlinkReply(payload);
    } catch {
      return;
    }
    this.#replies.settle(reply.id, topic, reply);
  }

  /** Fails the answers waited for: those of `session`'s devices, or all of them. */
  rejectAll(error: EmulatorError, session?: Session): void {
    this.#replies.rejectAll(() => error, session);
  }

  /** `thing.topo.change` to the gateway, when it is online; its answer is not waited for. */
  topologyChange(gateway: DeviceIdentity, status: TopoChangeStatus, subDevices: readonly DeviceIdentity[]): void {
    const online = this.#host.presence.lookup(gateway.productKey, gateway.deviceName);
    if (online === undefined || online.gateway !== undefined || subDevices.length === 0) return;
    this.#cloud.send(serviceTopic('topo-change', online.topics), buildTopoChange({ id: this.#ids.next(), status, subDevices }));
  }

  /** A notice on `/ext/error/{gateway}` about one sub-device. */
  notice(gateway: OnlineDevice, subDevice: DeviceIdentity, code: number, message: string, id = this.#ids.next()): void {
    const topic = serviceTopic('session-error', gateway.topics);
    this.#cloud.send(topic, buildSessionError({ id, subDevice: identity(subDevice), code, message }), GATEWAY_LIMITS.sessionQos);
  }

  /** The host's `subdevice` event for `subDevice`, online through its gateway. */
  announce(subDevice: OnlineDevice, action: SubDeviceEvent['action'], reason: SubDeviceEventReason): void {
    const gateway = subDevice.gateway!;
    this.#host.subDevice({
      action,
      reason,
      productKey: subDevice.topics.productKey,
      deviceName: subDevice.topics.deviceName,
      gateway: identity(gateway.topics),
      connection: gateway.session.traced,
    });
  }
}
