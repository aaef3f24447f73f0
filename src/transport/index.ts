/**
 * Sockets: opening the TCP or TLS connection an MQTT session runs over, with IPv6 first and
 * errors that say what to do.
 */
export { openTransport } from './open.js';
export type { TransportOptions, ResolvedTransportOptions } from './options.js';
export { TransportError } from './errors.js';
export type { TransportErrorCode, TransportPhase } from './errors.js';
