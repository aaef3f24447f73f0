/**
 * aliot-mqtt: a zero-dependency MQTT 3.1.1 client for the Alibaba Cloud IoT Platform over IPv6
 * and TLS. The layers, bottom up, each using only those above it in this list: what every layer
 * shares (errors, validation, the clock), the packet codec, the platform's credentials, the
 * platform profile (endpoints, limits, Alink formats), the IPv6/TLS transport, the durable outbox
 * store, the MQTT session, and the device on the platform (`connectDevice`). The local stand-in
 * for the platform is a separate entry point, `aliot-mqtt/emulator`.
 */
export { ConfigurationError } from './shared/errors.js';
export type { Clock } from './shared/clock.js';
export * from './packet/index.js';
export * from './sign/index.js';
export * from './aliyun/index.js';
export * from './transport/index.js';
export * from './store/index.js';
export * from './client/index.js';
export * from './device/index.js';
