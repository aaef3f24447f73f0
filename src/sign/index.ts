/**
 * Platform credentials: signing a device's CONNECT (device side) and verifying it (server side).
 * Pure functions over `node:crypto`; no network code.
 */
export { signCredentials, type SignInput } from './credentials.js';
export {
  verifyCredentials,
  connackCodeForVerifyFailure,
  type PresentedCredentials,
  type SecretLookup,
  type VerifyOptions,
  type VerifyFailureReason,
  type VerifyResult,
  type VerifySuccess,
  type VerifyFailure,
} from './verify.js';
export {
  parseClientId,
  formatClientId,
  clientIdProblem,
  MAX_CLIENT_ID_LENGTH,
  type ClientIdExtension,
  type ClientIdParseFailure,
  type ParsedClientId,
} from './extension.js';
export { signContent, signature } from './content.js';
export {
  SIGN_METHODS,
  SECURE_MODES,
  secureModeFor,
  type SignMethod,
  type SecureMode,
  type Transport,
  type MqttCredentials,
} from './types.js';
