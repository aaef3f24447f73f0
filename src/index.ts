/**
 * aliot-mqtt: a zero-dependency MQTT 3.1.1 client for the Alibaba Cloud IoT Platform over IPv6
 * and TLS. The layers, bottom up: the packet codec, the platform's credentials, the platform
 * profile (endpoints, limits, Alink), the IPv6/TLS transport, and the MQTT session. The local
 * stand-in for the platform is a separate entry point, `aliot-mqtt/emulator`.
 */
export * from './packet/index.js';
export * from './sign/index.js';
export * from './aliyun/index.js';
export * from './transport/index.js';
export * from './client/index.js';
export { ConfigurationError } from './errors.js';
