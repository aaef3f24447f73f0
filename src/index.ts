export type * from './packet/types.js';
export { MqttProtocolError, type MqttProtocolErrorCode } from './packet/errors.js';
export { ConfigurationError } from './errors.js';
