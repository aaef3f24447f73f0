/** Device services: NTP time, device shadow, remote configuration, tags. Pure formats. */
export {
  buildNtpRequest,
  parseNtpResponse,
  ntpTime,
  type NtpResponse,
  type NtpSync,
} from './ntp.js';
export {
  SHADOW_NULL,
  buildShadowGet,
  buildShadowUpdate,
  buildShadowClearDesired,
  buildShadowDelete,
  parseShadowMessage,
  type ShadowRequest,
  type ShadowMessage,
  type ShadowState,
} from './shadow.js';
export {
  buildConfigGet,
  parseConfigGetReply,
  parseConfigPush,
  type ConfigFile,
} from './config.js';
export {
  TAG_LIMITS,
  tagKeyProblem,
  tagValueProblem,
  buildTagsUpdate,
  buildTagsDelete,
} from './tags.js';
