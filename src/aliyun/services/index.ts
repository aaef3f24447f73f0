/** Device services: NTP time, device shadow, remote configuration, tags. Pure formats. */
export { buildNtpRequest, parseNtpRequest, buildNtpResponse, parseNtpResponse, ntpTime, type NtpResponse, type NtpSync } from './ntp.js';
export {
  SHADOW_NULL,
  buildShadowGet,
  buildShadowUpdate,
  buildShadowClearDesired,
  buildShadowDelete,
  parseShadowRequest,
  parseShadowMessage,
  buildShadowMessage,
  type ShadowRequest,
  type ShadowMessage,
  type ShadowState,
} from './shadow.js';
export {
  buildConfigGet,
  parseConfigGet,
  parseConfigGetReply,
  parseConfigPush,
  buildConfigPush,
  buildConfigGetReply,
  type ConfigFile,
} from './config.js';
export { TAG_LIMITS, tagKeyProblem, tagValueProblem, buildTagsUpdate, buildTagsDelete, parseTagsUpdate, parseTagsDelete } from './tags.js';
