/**
 * Remote configuration's cloud side: the product's current configuration file (set by the test
 * API, as the console publishes one), answered to a device's `thing.config.get` on `_reply`
 * (code 200 with empty data while the product has none), and pushed to a device as
 * `thing.config.push`, resolved by the device's `push_reply` (formats and sources in
 * `src/aliyun/services/config.ts`). A get that cannot be read is answered 460.
 */
import { ALINK_REPLY_CODES } from '../../aliyun/alink/codes.js';
import { AlinkIdGenerator } from '../../aliyun/alink/id.js';
import { buildAlinkReply, parseAlinkReply } from '../../aliyun/alink/payload.js';
import type { AlinkReply } from '../../aliyun/alink/payload.js';
import { PendingReplies } from '../../aliyun/alink/pending.js';
import { readRequestId } from '../../aliyun/alink/request-id.js';
import type { ParsedServiceTopic } from '../../aliyun/service-topics.js';
import { serviceTopic } from '../../aliyun/service-topics.js';
import { buildConfigGetReply, buildConfigPush, parseConfigGet } from '../../aliyun/services/config.js';
import type { ConfigFile } from '../../aliyun/services/config.js';
import { PlatformPayloadError } from '../../aliyun/wire/errors.js';
import { ConfigurationError } from '../../shared/errors.js';
import { requireText } from '../../shared/validate.js';
import { EmulatorError } from '../errors.js';
import type { OnlineDevice } from '../presence.js';
import type { Session } from '../session.js';
import { checkSubscribed } from './service.js';
import type { CloudContext, CloudService } from './service.js';
import { ownTopic } from './own-topic.js';

const NO_ID = '0';

/** @internal */
export class ConfigService implements CloudService {
  readonly #cloud: CloudContext;
  readonly #answering: boolean;
  /** By productKey. */
  readonly #configs = new Map<string, Readonly<ConfigFile>>();
  readonly #ids = new AlinkIdGenerator();
  readonly #replies: PendingReplies<AlinkReply>;

  constructor(cloud: CloudContext, options: { readonly autoReplyServices: boolean }) {
    this.#cloud = cloud;
    this.#answering = options.autoReplyServices;
    this.#replies = new PendingReplies(cloud.clock);
  }

  /**
   * Makes `config` the product's configuration file (`undefined`: none).
   *
   * @throws ConfigurationError naming the field of a description the platform would not send.
   */
  set(productKey: string, config: ConfigFile | undefined): void {
    requireText('productKey', productKey, 'give the ProductKey');
    if (config === undefined) {
      this.#configs.delete(productKey);
      return;
    }
    buildConfigPush({ id: '1', config }); // checks every field
    this.#configs.set(productKey, Object.freeze({ ...config }));
  }

  get(productKey: string): Readonly<ConfigFile> | undefined {
    return this.#configs.get(productKey);
  }

  /**
   * Pushes the product's configuration file (after making `config` the product's, when given) to
   * one device, and resolves with its `push_reply`, whatever its code.
   */
  async push(productKey: string, deviceName: string, config: ConfigFile | undefined, timeoutMs: number): Promise<AlinkReply> {
    const device = this.#cloud.target(productKey, deviceName, timeoutMs);
    if (config !== undefined) this.set(productKey, config);
    const current = this.#configs.get(productKey);
    if (current === undefined) {
      throw new ConfigurationError('config', `product ${productKey} has no configuration file to push; give one, or set it with setConfig first`);
    }
    const topic = serviceTopic('config-push', device.topics);
    const replyTopic = serviceTopic('config-push', device.topics, { reply: true });
    checkSubscribed(device, topic);
    const id = this.#ids.next();
    const reply = this.#replies.wait(id, {
      topic: replyTopic,
      timeout: timeoutMs,
      what: 'thing.config.push',
      owner: device.session,
      onTimeout: () =>
        new EmulatorError('reply-timeout', `device ${deviceName} of product ${productKey} did not answer thing.config.push (id ${id}) on ${replyTopic} within ${timeoutMs} ms`),
    });
    this.#cloud.send(topic, buildConfigPush({ id, config: current }));
    return reply;
  }

  published(): void {}

  servicePublished(device: OnlineDevice, topic: string, kind: ParsedServiceTopic, payload: Uint8Array): void {
    if (!ownTopic(device, kind)) return;
    if (kind.kind === 'config-push' && kind.reply) {
      let reply: AlinkReply;
      try {
        reply = parseAlinkReply(payload);
      } catch {
        return; // without a readable id it answers nothing; the push times out, as on the platform
      }
      this.#replies.settle(reply.id, topic, reply);
      return;
    }
    if (kind.kind !== 'config-get' || kind.reply || !this.#answering) return;
    let answer: string;
    try {
      const request = parseConfigGet(payload);
      if (request.configScope !== 'product' || request.getType !== 'file') {
        throw new PlatformPayloadError('bad-field', 'params', 'the platform serves configScope "product" and getType "file" only');
      }
      const config = this.#configs.get(kind.productKey);
      answer = config === undefined ? buildAlinkReply({ id: request.id, data: {} }) : buildConfigGetReply({ id: request.id, config });
    } catch (error) {
      if (!(error instanceof PlatformPayloadError)) throw error;
      const code = ALINK_REPLY_CODES.requestParameterError;
      answer = buildAlinkReply({ id: readRequestId(payload) ?? NO_ID, code, message: `request parameter error: ${error.message}` });
    }
    this.#cloud.send(serviceTopic('config-get', kind, { reply: true }), answer);
  }

  disconnected(session: Session, error: EmulatorError): void {
    this.#replies.rejectAll(() => error, session);
  }

  closing(error: EmulatorError): void {
    this.#replies.rejectAll(() => error);
  }
}
