/*
 * The platform's side of the gateway, registration, service and OTA formats: reading what
 * devices and gateways send, and writing what the platform sends them. For the local stand-in
 * (src/emulator) and the tests. Not re-exported from the package's entry point, so a device's
 * bundle does not carry the platform's half.
 */
export { verifySubDeviceSign, verifyRegistrationSign } from './gateway/sign.js';
export { parseTopoAdd, parseTopoDelete, buildTopoChange, parseSubRegister } from './gateway/topology.js';
export { parseSubLogin, parseBatchLogin, parseSubLogout, parseBatchLogout, buildLifecycleNotice, buildSessionError } from './gateway/session.js';
export { parsePackPost, parseHistoryPost } from './gateway/pack.js';
export { parseNtpRequest, buildNtpResponse } from './services/ntp.js';
export { parseShadowRequest, buildShadowMessage } from './services/shadow.js';
export { parseConfigGet, buildConfigPush, buildConfigGetReply } from './services/config.js';
export { parseTagsUpdate, parseTagsDelete } from './services/tags.js';
export { parseRegisterForm, buildRegisterAnswer } from './register/https.js';
export { parseRegistrationClientId, isTokenClientId, buildRegisterAnswerMessage, buildRegnwlAnswerMessage } from './register/mqtt.js';
export { parseOtaVersion, buildOtaJob, parseOtaProgress, parseFirmwareGet } from './ota/ota.js';
