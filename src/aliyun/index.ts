/**
 * The Alibaba Cloud IoT Platform profile: endpoints, root CAs, session limits, CONNACK hints,
 * connection options for a device, and the Alink topics and payloads, all pure functions. It sits
 * below the MQTT session; the device handle that talks to the network is `src/device`.
 */
export {
  ALIYUN_REGIONS,
  DEFAULT_REGION,
  IPV6_REGION,
  DEFAULT_PORT,
  IPV6_TEST_ENDPOINT,
  productEndpoint,
  instanceEndpoint,
  missingAaaaHint,
  type AliyunRegion,
  type PlatformEndpoint,
} from './endpoints.js';
export { aliyunRootCa, pemCertificates } from './ca.js';
export {
  PLATFORM_LIMITS,
  checkKeepalive,
  checkPlatformConnect,
  checkPlatformPublish,
  checkPlatformSubscribe,
  type PlatformConnectSettings,
  type PlatformPublishSettings,
} from './limits.js';
export { platformConnackHint, type PlatformConnackHint, type RefusedReturnCode } from './connack.js';
export { platformTransportHint, platformClosedHint, type PlatformHintCode, type ConnectionFailureFacts } from './hints.js';
export {
  deviceConnectionOptions,
  type DeviceOptions,
  type EndpointChoice,
  type CaOption,
  type PlatformConnectionOptions,
} from './connection.js';
export {
  X509_ENDPOINT,
  X509_REGION,
  X509_IDENTITY_TOPIC,
  x509ConnectionOptions,
  parseX509Identity,
  x509ConnackHint,
  type X509DeviceOptions,
  type X509EndpointChoice,
} from './x509.js';
export * from './alink/index.js';
export { PlatformPayloadError, type PlatformPayloadErrorCode } from './wire/errors.js';
export type { PlatformReply, PlatformRequest } from './wire/envelope.js';
export type { DeviceIdentity } from './wire/identity.js';
export { DIGEST_HEX_LENGTH, parseDigestMethod, type DigestMethod } from './wire/digest.js';
export {
  serviceTopic,
  parseServiceTopic,
  SERVICE_METHODS,
  REGISTER_TOPIC,
  REGNWL_TOPIC,
  type ServiceTopicKind,
  type ParsedServiceTopic,
} from './service-topics.js';
export * from './gateway/index.js';
export * from './services/index.js';
export * from './register/index.js';
export * from './ota/index.js';
