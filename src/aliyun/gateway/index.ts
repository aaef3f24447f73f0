/*
 * Gateway formats: topology, sub-device sessions, batch posts, their signatures and limits.
 * Pure: builders return the JSON text to publish, parsers read what arrives.
 */
export { GATEWAY_LIMITS, checkOnlineCapacity, inBatches } from './limits.js';
export {
  SIGN_METHOD_NAMES,
  parseSignMethodName,
  signSubDevice,
  signRegistration,
  registrationRandom,
  type SubDeviceCredentials,
  type SubDeviceSignOptions,
  type SubDeviceSignature,
  type RegistrationSignInput,
} from './sign.js';
export {
  buildTopoAdd,
  parseTopologyReply,
  buildTopoGet,
  buildTopoDelete,
  parseTopoChange,
  TOPO_CHANGE_STATUS,
  buildSubRegister,
  parseSubRegisterReply,
  type TopoAddInput,
  type TopoChange,
  type TopoChangeStatus,
  type RegisteredSubDevice,
} from './topology.js';
export {
  buildSubLogin,
  buildBatchLogin,
  parseSessionReply,
  parseBatchSessionReply,
  buildSubLogout,
  buildBatchLogout,
  parseLifecycleNotice,
  parseSessionError,
  NO_ACTIVE_SESSION,
  type LoginOptions,
  type LoginEntry,
  type LifecycleAction,
  type SessionErrorNotice,
} from './session.js';
export {
  buildPackPost,
  buildHistoryPost,
  type TimedValue,
  type ThingReport,
  type SubDeviceReport,
  type PackPostInput,
  type PackPost,
  type HistoryEntry,
} from './pack.js';
