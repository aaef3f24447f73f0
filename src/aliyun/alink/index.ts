/**
 * Alink, the platform's JSON protocol on top of MQTT: topics, request and reply payloads, ids.
 */
export { AlinkTopics, type AlinkTopic, type AlinkRequestTopic } from './topics.js';
export {
  buildAlinkRequest,
  buildAlinkReply,
  parseAlinkRequest,
  parseAlinkReply,
  ALINK_METHODS,
  ALINK_VERSION,
  type AlinkRequest,
  type AlinkReply,
  type AlinkRequestInput,
  type AlinkReplyInput,
} from './payload.js';
export { AlinkIdGenerator, MAX_ALINK_ID } from './id.js';
export { AlinkPayloadError, type AlinkPayloadErrorCode } from './errors.js';
