/**
 * What goes up for the gateway's sub-devices: the gateway's packed and history posts, and each
 * sub-device handle's posts and publishes over the gateway's connection (what a `SubDevice` asks
 * of its gateway). A post made while its sub-device is being logged in again waits for it.
 */
import { buildAlinkRequest } from '../aliyun/alink/payload.js';
import type { AlinkReply } from '../aliyun/alink/payload.js';
import { buildHistoryPost, buildPackPost } from '../aliyun/gateway/pack.js';
import type { HistoryEntry } from '../aliyun/gateway/pack.js';
import { checkPlatformPublish } from '../aliyun/limits.js';
import { identityKey } from '../aliyun/wire/identity.js';
import { ConfigurationError } from '../shared/errors.js';
import { describeValue } from '../shared/validate.js';
import type { PostOptions } from './device-options.js';
import { ALINK_REPLY_CODES, AlinkReplyError } from './errors.js';
import { GatewayError } from './gateway-errors.js';
import { checkTimeout, prebuild } from './gateway-options.js';
import type { GatewayContext } from './gateway-options.js';
import type { GatewayRequests } from './gateway-requests.js';
import type { SubDeviceSessions } from './gateway-sessions.js';
import type { GatewayPackInput } from './gateway-types.js';
import type { SubDeviceHandle, SubDeviceState } from './sub-device.js';

/** @internal */
export class GatewayPosts {
  readonly #gateway: GatewayContext;
  readonly #requests: GatewayRequests;
  readonly #sessions: SubDeviceSessions;
  /** Posts held until their sub-device is logged in again; a timeout takes the id out. */
  readonly #held = new Set<string>();

  constructor(gateway: GatewayContext, requests: GatewayRequests, sessions: SubDeviceSessions) {
    this.#gateway = gateway;
    this.#requests = requests;
    this.#sessions = sessions;
  }

  // -------------------------------------------------------------------------------------------
  // The gateway's batch posts

  async postPack(input: GatewayPackInput, options: PostOptions): Promise<AlinkReply> {
    if (typeof input !== 'object' || input === null) throw new ConfigurationError('input', 'give { properties, events, subDevices }');
    const build = prebuild((id) => buildPackPost({ ...input, id }));
    for (const report of input.subDevices ?? []) {
      const handle = this.#sessions.get(identityKey(report));
      if (handle?.state !== 'online') {
        throw new GatewayError('not-logged-in', `sub-device ${identityKey(report)} is not logged in through this gateway (${handle?.reason ?? 'never logged in'}); log it in before posting for it`);
      }
    }
    return this.#requests.post('pack-post', build, options);
  }

  async postHistory(entries: readonly HistoryEntry[], options: PostOptions): Promise<AlinkReply> {
    return this.#requests.post('history-post', prebuild((id) => buildHistoryPost({ id, entries })), options);
  }

  // -------------------------------------------------------------------------------------------
  // What a sub-device asks of its gateway

  async post(subDevice: SubDeviceHandle, topic: string, replyTopic: string, method: string, params: unknown, options: PostOptions): Promise<AlinkReply> {
    if (typeof options !== 'object' || options === null) throw new ConfigurationError('options', `got ${describeValue(options)}; give { timeout, qos } or leave it out`);
    const timeout = options.timeout === undefined ? this.#gateway.settings.replyTimeout : checkTimeout('timeout', options.timeout);
    const qos = options.qos ?? 0;
    if (typeof params !== 'object' || params === null || Array.isArray(params)) {
      throw new ConfigurationError('params', `got ${describeValue(params)}; give a JSON object such as { "temperature": 21.5 }`);
    }
    const requests = this.#requests;
    const id = requests.nextId();
    const payload = buildAlinkRequest({ id, method, params: params as Record<string, unknown> });
    checkPlatformPublish(topic, payload, { qos });
    this.#checkUsable(subDevice, method);
    const reply = requests.posts.wait(id, {
      topic: replyTopic,
      timeout,
      what: method,
      owner: subDevice,
      onTimeout: () => {
        this.#held.delete(id);
        return requests.timeoutError(`${method} of ${subDevice.key}`, id, replyTopic, timeout);
      },
    });
    if (subDevice.state === 'online') {
      this.#gateway.client.publish(topic, payload, { qos }).catch((error: Error) => requests.posts.reject(id, requests.sendFailed(error, `a post of ${subDevice.key}`, id)));
    } else {
      void this.#sendWhenBack(subDevice, id, topic, payload, qos, reply);
    }
    const answer = await reply;
    if (answer.code !== ALINK_REPLY_CODES.success) throw new AlinkReplyError(method, answer);
    return answer;
  }

  async publish(subDevice: SubDeviceHandle, topic: string, payload: Uint8Array | string, qos: 0 | 1): Promise<void> {
    checkPlatformPublish(topic, payload, { qos });
    this.#checkUsable(subDevice, `a message on ${topic}`);
    if (subDevice.state !== 'online') {
      throw new GatewayError('not-logged-in', `sub-device ${subDevice.key} is being logged in again (${subDevice.reason}); publish once it is online`);
    }
    await this.#gateway.client.publish(topic, payload, { qos });
  }

  /** The gateway ended: no held post goes out any more. */
  stop(): void {
    this.#held.clear();
  }

  /** Publishes the post of a sub-device on its way back online, once it is back. */
  async #sendWhenBack(subDevice: SubDeviceHandle, id: string, topic: string, payload: string, qos: 0 | 1, reply: Promise<AlinkReply>): Promise<void> {
    this.#held.add(id);
    const settled = reply.then(() => {}, () => {});
    while (stateOf(subDevice) === 'returning' && this.#held.has(id)) await Promise.race([this.#sessions.roundEnded, settled]);
    // A timeout took it out, or the sub-device went offline for good and its posts failed with it.
    if (!this.#held.delete(id) || stateOf(subDevice) !== 'online') return;
    try {
      await this.#gateway.client.publish(topic, payload, { qos });
    } catch (error) {
      this.#requests.posts.reject(id, this.#requests.sendFailed(error as Error, `a post of ${subDevice.key}`, id));
    }
  }

  #checkUsable(subDevice: SubDeviceHandle, what: string): void {
    if (this.#gateway.ending) throw new GatewayError('gateway-ended', `the gateway has ended; ${what} was not sent`);
    if (subDevice.state === 'offline') {
      throw new GatewayError('not-logged-in', `sub-device ${subDevice.key} is not logged in (${subDevice.reason}); ${what} was not sent: log it in with gateway.login first`);
    }
  }
}

/** The state now: read through a call, since it changes while a caller awaits. */
function stateOf(subDevice: SubDeviceHandle): SubDeviceState {
  return subDevice.state;
}
