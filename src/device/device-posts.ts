/**
 * The device's posts and their replies: a property or event post checked, given an Alink id
 * (counted per device, not per connection, so a reply that crosses a reconnect still matches),
 * published, and settled by the `_reply` with the same id, by its timeout, or by the device
 * ending.
 */
import { debug } from '../shared/builtins.js';
import { ConfigurationError } from '../shared/errors.js';
import { describeValue } from '../shared/validate.js';
import type { MqttClient } from '../client/client.js';
import { MqttClientError } from '../client/errors.js';
import { AlinkPayloadError } from '../aliyun/alink/errors.js';
import { AlinkIdGenerator } from '../aliyun/alink/id.js';
import { PendingReplies } from '../aliyun/alink/pending.js';
import { buildAlinkRequest, parseAlinkReply } from '../aliyun/alink/payload.js';
import type { AlinkReply } from '../aliyun/alink/payload.js';
import { checkPlatformPublish } from '../aliyun/limits.js';
import { checkTimeout } from './device-options.js';
import type { PostOptions } from './device-options.js';
import { ALINK_REPLY_CODES, AlinkReplyError, DeviceError } from './errors.js';

/**
 * What the posts need of their device.
 *
 * @internal
 */
export interface PostHost {
  readonly client: MqttClient;
  /** Milliseconds a post waits for its reply unless the call says otherwise. */
  readonly replyTimeout: number;
  /** Reports what went wrong with a reply (a DeviceError). */
  report(error: Error): void;
  /** Added to a timeout's message: what to subscribe to when the device subscribed to nothing. */
  subscribeHint(): string;
}

/**
 * The posts of one device and the replies they wait for.
 *
 * @internal
 */
export class DevicePosts {
  readonly #host: PostHost;
  /** Per device, not per network connection: a reply that crosses a reconnect still matches. */
  readonly #ids = new AlinkIdGenerator();
  /** Posts waiting for their `_reply`, by Alink id. */
  readonly #pending: PendingReplies<AlinkReply>;
  #ended = false;

  constructor(host: PostHost) {
    this.#host = host;
    this.#pending = new PendingReplies(host.client.options.clock);
  }

  /**
   * Posts `params` as Alink request `method` on `topic` and resolves with the reply on
   * `replyTopic`; rejects with AlinkReplyError for a code other than 200.
   */
  async post(topic: string, replyTopic: string, method: string, params: Record<string, unknown>, options: PostOptions): Promise<AlinkReply> {
    checkPostOptions(options);
    const timeout = options.timeout === undefined ? this.#host.replyTimeout : checkTimeout('timeout', options.timeout);
    const qos = options.qos ?? 1;
    checkParams(params);
    if (this.#ended) throw endedError(method);
    const id = this.#ids.next();
    const payload = buildAlinkRequest({ id, method, params });
    checkPlatformPublish(topic, payload, { qos });
    const hint = this.#host.subscribeHint();
    const reply = this.#pending.wait(id, {
      topic: replyTopic,
      timeout,
      what: method,
      onTimeout: () => new DeviceError('reply-timeout', `no reply to ${method} (id ${id}) on ${replyTopic} within ${timeout} ms${hint}`),
    });
    this.#host.client.publish(topic, payload, { qos }).catch((error: Error) => {
      const ended = error instanceof MqttClientError && error.code === 'client-ended';
      const failure = ended
        ? new DeviceError('device-ended', `the client ended before ${method} (id ${id}) was acknowledged`, { cause: error })
        : error;
      this.#pending.reject(id, failure);
    });
    const answer = await reply;
    if (answer.code !== ALINK_REPLY_CODES.success) throw new AlinkReplyError(method, answer);
    return answer;
  }

  /** A reply on `topic`: it settles the post with its id, if one waits. */
  replyArrived(topic: string, payload: Uint8Array): void {
    let reply: AlinkReply;
    try {
      reply = parseAlinkReply(payload);
    } catch (error) {
      if (!(error instanceof AlinkPayloadError)) throw error;
      this.#host.report(new DeviceError('malformed-reply', `cannot read the reply on ${topic} (${error.message}); the post it answers will time out`, { cause: error }));
      return;
    }
    if (!this.#pending.settle(reply.id, topic, reply)) {
      // Late (after its timeout) or not ours: nothing waits for it.
      if (debug.enabled) debug('reply %s on %s matches no waiting post', reply.id, topic);
    }
  }

  /** No more posts: every waiting one fails with `device-ended`, saying `why`. */
  end(why: string): void {
    this.#ended = true;
    this.#pending.rejectAll((id, method) => new DeviceError('device-ended', `${why} before the reply to ${method} (id ${id}) came`));
  }
}

/**
 * Post options must be an object.
 *
 * @throws ConfigurationError for post options that are not an object.
 *
 * @internal
 */
export function checkPostOptions(options: unknown): void {
  if (typeof options !== 'object' || options === null) {
    throw new ConfigurationError('options', `got ${describeValue(options)}; give { timeout, qos } or leave it out`);
  }
}

/**
 * A post's params must be a JSON object.
 *
 * @throws ConfigurationError for params that are not a JSON object.
 *
 * @internal
 */
export function checkParams(params: unknown): void {
  if (typeof params !== 'object' || params === null || Array.isArray(params)) {
    throw new ConfigurationError('params', `got ${describeValue(params)}; give a JSON object such as { "temperature": 21.5 }`);
  }
}

function endedError(method: string): DeviceError {
  return new DeviceError('device-ended', `the device has ended; ${method} was not sent`);
}
