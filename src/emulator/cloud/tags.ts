/**
 * Device tags' cloud side: `thing.deviceinfo.update` and `thing.deviceinfo.delete` from a device
 * on its own `/sys/{pk}/{dn}/thing/deviceinfo/...` topics change its tags, kept across
 * connections, and are answered 200 on `_reply`; a request that cannot be read, or that holds a
 * key or value the platform refuses, is answered 460 with a message saying what was wrong
 * (help.aliyun.com/document_detail/89304; the rules in `src/aliyun/services/tags.ts`).
 */
import { ALINK_REPLY_CODES } from '../../aliyun/alink/codes.js';
import { buildAlinkReply } from '../../aliyun/alink/payload.js';
import { readRequestId } from '../../aliyun/alink/request-id.js';
import type { ParsedServiceTopic } from '../../aliyun/service-topics.js';
import { serviceTopic } from '../../aliyun/service-topics.js';
import { parseTagsDelete, parseTagsUpdate, TAG_LIMITS } from '../../aliyun/services/tags.js';
import { PlatformPayloadError } from '../../aliyun/wire/errors.js';
import type { DeviceIdentity } from '../../aliyun/wire/identity.js';
import { identityKey } from '../../aliyun/wire/identity.js';
import type { OnlineDevice } from '../presence.js';
import type { CloudContext, CloudService } from './service.js';
import { ownTopic } from './own-topic.js';

/** The id of an answer to a request without a readable one, as the thing model answers it. */
const NO_ID = '0';

/**
 * Tags one device may hold: "The maximum number of tags that can be attached to a product,
 * device, or device group: 100" (help.aliyun.com/document_detail/30527, Limits). An update that
 * would pass it is refused whole, which also bounds what a device can make the stand-in keep.
 */
export const MAX_DEVICE_TAGS = 100;

/** @internal */
export class TagService implements CloudService {
  readonly #cloud: CloudContext;
  readonly #answering: boolean;
  readonly #tags = new Map<string, Map<string, string>>();

  constructor(cloud: CloudContext, options: { readonly autoReplyServices: boolean }) {
    this.#cloud = cloud;
    this.#answering = options.autoReplyServices;
  }

  published(): void {}

  servicePublished(device: OnlineDevice, _topic: string, kind: ParsedServiceTopic, payload: Uint8Array): void {
    if ((kind.kind !== 'tags-update' && kind.kind !== 'tags-delete') || kind.reply || !ownTopic(device, kind) || !this.#answering) return;
    const replyTopic = serviceTopic(kind.kind, kind, { reply: true });
    const tags = this.#of(kind);
    let reply: string;
    try {
      if (kind.kind === 'tags-update') {
        const request = parseTagsUpdate(payload);
        const entries = Object.entries(request.tags);
        checkCount(entries.length);
        const added = entries.filter(([key]) => !tags.has(key)).length;
        if (tags.size + added > MAX_DEVICE_TAGS) {
          throw new PlatformPayloadError('bad-field', 'params', `the device would hold ${tags.size + added} tags; the platform allows ${MAX_DEVICE_TAGS} per device`);
        }
        for (const [key, value] of entries) tags.set(key, value);
        reply = buildAlinkReply({ id: request.id });
      } else {
        const request = parseTagsDelete(payload);
        checkCount(request.keys.length);
        for (const key of request.keys) tags.delete(key);
        reply = buildAlinkReply({ id: request.id });
      }
    } catch (error) {
      if (!(error instanceof PlatformPayloadError)) throw error;
      const code = ALINK_REPLY_CODES.requestParameterError;
      reply = buildAlinkReply({ id: readRequestId(payload) ?? NO_ID, code, message: `request parameter error: ${error.message}` });
    }
    this.#cloud.send(replyTopic, reply);
  }

  disconnected(): void {}

  closing(): void {}

  /** A device's tags, copied. */
  read(device: DeviceIdentity): Record<string, string> {
    return Object.fromEntries(this.#tags.get(identityKey(device)) ?? []);
  }

  #of(device: DeviceIdentity): Map<string, string> {
    const key = identityKey(device);
    let tags = this.#tags.get(key);
    if (tags === undefined) {
      tags = new Map();
      this.#tags.set(key, tags);
    }
    return tags;
  }
}

function checkCount(count: number): void {
  if (count === 0) throw new PlatformPayloadError('bad-field', 'params', 'no tags');
  if (count > TAG_LIMITS.maxTags) throw new PlatformPayloadError('bad-field', 'params', `${count} tags; at most ${TAG_LIMITS.maxTags} per message`);
}
