/**
 * Gateway formats: topology, sub-device sessions, batch posts, their signatures and limits.
 * Pure: builders return the JSON text to publish, parsers read what arrives.
 */
export { GATEWAY_LIMITS, checkOnlineCapacity, inBatches } from './limits.js';
export {
  SIGN_METHOD_NAMES,
  parseSignMethodName,
  signSubDevice,
  verifySubDeviceSign,
  signRegistration,
  verifyRegistrationSign,
  registrationRandom,
  type SubDeviceCredentials,
  type SubDeviceSignOptions,
  type SubDeviceSignature,
  type RegistrationSignInput,
} from './sign.js';
export {
  buildTopoAdd,
  parseTopoAdd,
  parseTopologyReply,
  buildTopoGet,
  buildTopoDelete,
  parseTopoDelete,
  buildTopoChange,
  parseTopoChange,
  TOPO_CHANGE_STATUS,
  buildSubRegister,
  parseSubRegister,
  parseSubRegisterReply,
  type TopoAddInput,
  type TopoChange,
  type TopoChangeStatus,
  type RegisteredSubDevice,
} from './topology.js';
export {
  buildSubLogin,
  buildBatchLogin,
  parseSubLogin,
  parseBatchLogin,
  parseSessionReply,
  parseBatchSessionReply,
  buildSubLogout,
  buildBatchLogout,
  parseSubLogout,
  parseBatchLogout,
  buildLifecycleNotice,
  parseLifecycleNotice,
  buildSessionError,
  parseSessionError,
  NO_ACTIVE_SESSION,
  type LoginOptions,
  type LoginEntry,
  type LifecycleAction,
  type SessionErrorNotice,
} from './session.js';
export {
  buildPackPost,
  parsePackPost,
  buildHistoryPost,
  parseHistoryPost,
  type TimedValue,
  type ThingReport,
  type SubDeviceReport,
  type PackPostInput,
  type PackPost,
  type HistoryEntry,
} from './pack.js';
