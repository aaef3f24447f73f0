/**
 * Sockets: opening the TCP or TLS connection an MQTT session runs over, with IPv6 first and
 * errors that say what to do.
 */
export { openTransport } from './open.js';
export type { TransportOptions, ResolvedTransportOptions } from './options.js';
export { TransportError } from './errors.js';
export { earlyCloseHint } from './closed.js';
export type { EarlyCloseFacts, EarlyCloseHintCode } from './closed.js';
export type { TransportAdvice, TransportAdviceCode, TransportErrorCode, TransportPhase } from './errors.js';
export type { Advice, AdviceOption, Hint } from '../shared/advice.js';
export type { ClientCertificateOptions, ClientCertificateSummary } from './certificate.js';
