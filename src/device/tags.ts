/*
 * Device tags on a connected device: `thing.deviceinfo.update` and `thing.deviceinfo.delete` on
 * `/sys/{pk}/{dn}/thing/deviceinfo/update` and `.../delete`, answered on their `_reply` topics
 * (help.aliyun.com/document_detail/89304; the formats and the key and value rules are in
 * `src/aliyun/services/tags.ts`).
 */
import type { AlinkReply } from '../aliyun/alink/payload.js';
import { serviceTopic, SERVICE_METHODS } from '../aliyun/service-topics.js';
import { buildTagsDelete, buildTagsUpdate } from '../aliyun/services/tags.js';
import type { Device } from './device-types.js';
import { serviceLink } from './service-link.js';
import type { ServiceRequestOptions } from './service-link.js';

/**
 * Sets device tags (labels the console and the cloud APIs show): adds new keys, overwrites the
 * values of existing ones. Resolves with the platform's reply.
 *
 * @example await updateTags(device, { floor: '3', room: 'B-301' });
 * @throws ConfigurationError (`tags.<key>`, `tags`) for no tags, more than 200, or a key or value
 *   the platform refuses (a key is 1..30 letters, digits and `_ - # @ % & * .`; a value up to 128
 *   characters, a Chinese or Japanese character counting 2), before anything is sent.
 * @throws AlinkReplyError with the platform's code (460 parameter error, 6100 device not found)
 *   and message; DeviceError `reply-timeout`, `malformed-reply` or `device-ended`.
 */
export async function updateTags(device: Device, tags: Readonly<Record<string, string>>, options?: ServiceRequestOptions): Promise<AlinkReply> {
  const link = serviceLink(device);
  const timeout = link.timeout(options);
  const id = link.ids.next();
  const payload = buildTagsUpdate({ id, tags });
  const topic = serviceTopic('tags-update', device);
  const replyTopic = serviceTopic('tags-update', device, { reply: true });
  return link.alinkRequest({ id, method: SERVICE_METHODS.tagsUpdate, topic, replyTopic, payload, timeout });
}

/**
 * Removes device tags by key. Resolves with the platform's reply.
 *
 * @throws as {@link updateTags} does (`keys`, `keys[i]` for the key list).
 */
export async function deleteTags(device: Device, keys: readonly string[], options?: ServiceRequestOptions): Promise<AlinkReply> {
  const link = serviceLink(device);
  const timeout = link.timeout(options);
  const id = link.ids.next();
  const payload = buildTagsDelete({ id, keys });
  const topic = serviceTopic('tags-delete', device);
  const replyTopic = serviceTopic('tags-delete', device, { reply: true });
  return link.alinkRequest({ id, method: SERVICE_METHODS.tagsDelete, topic, replyTopic, payload, timeout });
}
