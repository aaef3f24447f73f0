/**
 * The thing model's cloud side: the `post_reply` to a device's property and event posts, and the
 * property sets and service calls the cloud sends, resolved by the device's `_reply`.
 */
import { ALINK_REPLY_CODES } from '../../aliyun/alink/codes.js';
import { AlinkPayloadError } from '../../aliyun/alink/errors.js';
import { AlinkIdGenerator } from '../../aliyun/alink/id.js';
import { ALINK_METHODS, buildAlinkReply, buildAlinkRequest, parseAlinkReply, parseAlinkRequest } from '../../aliyun/alink/payload.js';
import type { AlinkReply } from '../../aliyun/alink/payload.js';
import { PendingReplies } from '../../aliyun/alink/pending.js';
import { readRequestId } from '../../aliyun/alink/request-id.js';
import type { AlinkRequestTopic, AlinkTopic } from '../../aliyun/alink/topics.js';
import { EmulatorError } from '../errors.js';
import type { OnlineDevice } from '../presence.js';
import type { Session } from '../session.js';
import { checkSubscribed } from './service.js';
import type { CloudContext, CloudService } from './service.js';

/**
 * The id a post reply carries when the post had no readable one: `"0"`, an id no
 * {@link AlinkIdGenerator} hands out, so no device mistakes it for the answer to a real post.
 */
const NO_ID = '0';

export interface ThingOptions {
  readonly autoReplyPropertyPost: boolean;
  readonly autoReplyEventPost: boolean;
}

export class ThingModel implements CloudService {
  readonly #cloud: CloudContext;
  readonly #options: ThingOptions;
  /** One id sequence for every device, so an id alone names the request. */
  readonly #ids = new AlinkIdGenerator();
  readonly #replies: PendingReplies<AlinkReply>;

  constructor(cloud: CloudContext, options: ThingOptions) {
    this.#cloud = cloud;
    this.#options = options;
    this.#replies = new PendingReplies(cloud.clock);
  }

  /**
   * Sends `method` with `params` on the request topic of `kind` and resolves with the device's
   * reply of the same id on its `_reply` topic, whatever its code.
   */
  async request(
    productKey: string,
    deviceName: string,
    kind: AlinkRequestTopic,
    method: string,
    params: Record<string, unknown>,
    timeoutMs: number,
  ): Promise<AlinkReply> {
    const device = this.#cloud.target(productKey, deviceName, timeoutMs);
    const topic = device.topics.request(kind);
    const replyTopic = device.topics.reply(kind);
    const id = this.#ids.next();
    const payload = buildAlinkRequest({ id, method, params });
    checkSubscribed(device, topic);
    const reply = this.#replies.wait(id, {
      topic: replyTopic,
      timeout: timeoutMs,
      what: method,
      owner: device.session,
      onTimeout: () =>
        new EmulatorError(
          'reply-timeout',
          `device ${deviceName} of product ${productKey} did not answer ${method} (id ${id}) on ${replyTopic} within ${timeoutMs} ms`,
        ),
    });
    this.#cloud.send(topic, payload);
    return reply;
  }

  published(device: OnlineDevice, topic: string, kind: AlinkTopic, payload: Uint8Array): void {
    switch (kind.kind) {
      case 'property-post':
        if (this.#options.autoReplyPropertyPost) {
          this.#answerPost(payload, ALINK_METHODS.propertyPost, device.topics.propertyPostReply());
        }
        return;
      case 'event-post':
        if (this.#options.autoReplyEventPost) {
          this.#answerPost(payload, ALINK_METHODS.eventPost(kind.identifier), device.topics.eventPostReply(kind.identifier));
        }
        return;
      case 'reply': {
        let reply: AlinkReply;
        try {
          reply = parseAlinkReply(payload);
        } catch {
          return; // Without a readable id it answers nothing; the request times out, as on the platform.
        }
        this.#replies.settle(reply.id, topic, reply);
        return;
      }
    }
  }

  disconnected(session: Session, error: EmulatorError): void {
    this.#replies.rejectAll(() => error, session);
  }

  closing(error: EmulatorError): void {
    this.#replies.rejectAll(() => error);
  }

  /**
   * `{"id":<same>,"code":200,"data":{}}` on the post's `_reply` topic. A post that cannot be read
   * as an Alink request of the topic's method gets 460 with a message saying why, and the id
   * `readRequestId` finds in it (the device's own rule), else {@link NO_ID}.
   */
  #answerPost(payload: Uint8Array, method: string, replyTopic: string): void {
    const code = ALINK_REPLY_CODES.requestParameterError;
    let reply: string;
    try {
      const request = parseAlinkRequest(payload);
      reply =
        request.method === method
          ? buildAlinkReply({ id: request.id })
          : buildAlinkReply({ id: request.id, code, message: `request parameter error: method ${request.method} on this topic; use ${method}` });
    } catch (error) {
      if (!(error instanceof AlinkPayloadError)) throw error;
      reply = buildAlinkReply({ id: readRequestId(payload) ?? NO_ID, code, message: `request parameter error: ${error.message}` });
    }
    this.#cloud.send(replyTopic, reply);
  }
}
