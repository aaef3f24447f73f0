/**
 * A local stand-in for the IoT Platform, for the demo and the tests: MQTT 3.1.1 over TLS on the
 * IPv6 loopback, with the platform's credential checks, session rules and Alink side. A test and
 * teaching fixture, not a production broker.
 */
export { startEmulator, DEFAULT_REPLY_TIMEOUT_MS } from './emulator.js';
/** The Alink reply codes; the stand-in answers an unreadable post with `requestParameterError` (460). */
export { ALINK_REPLY_CODES } from '../aliyun/alink/codes.js';
export {
  CLOSE_GRACE_MS,
  CONNECT_TIMEOUT_MS,
  MAX_CONNECT_BYTES,
  MAX_INBOUND_PACKET,
  MESSAGE_EXPIRY_MS,
  SESSION_EXPIRY_MS,
  MAX_SESSION_MESSAGES,
  MAX_SESSION_BYTES,
  MAX_KEPT_MESSAGES,
  MAX_KEPT_BYTES,
} from './limits.js';
export type { EmulatorSessionOptions } from './session-limits.js';
export { MAX_EVENT_MESSAGE } from './echo.js';
export { EmulatorError, type EmulatorErrorCode } from './errors.js';
export { topicMatches } from './topic-filter.js';
export { MAX_DEVICE_TAGS } from './cloud/tags.js';
export { MAX_CREATED_DEVICES, REGISTRATION_CODES } from './cloud/register.js';
export type { OtaJobOptions, OtaJobInfo, OtaJobState, OtaJobEvent, OtaJobChange, OtaProgressRecord, OtaServeFaults } from './cloud/ota-types.js';
export type { HttpLogEntry } from './http/server.js';
export type {
  Emulator,
  EmulatorOptions,
  EmulatorDevice,
  EmulatorProduct,
  EmulatorShadow,
  RegisterEvent,
  EmulatorCertificateDevice,
  EmulatorTopology,
  EmulatorGateway,
  SubDeviceEvent,
  SubDeviceEventReason,
  EmulatorConnection,
  EmulatorEvents,
  TracedConnection,
  RefuseEvent,
  RefuseReason,
  DisconnectEvent,
  DisconnectReason,
  PacketEvent,
  SessionEvent,
} from './types.js';
