/** A device on the platform over an MQTT session: `connectDevice` and its Alink request/reply handle. */
export { connectDevice } from './device.js';
export {
  DEFAULT_REPLY_TIMEOUT,
  type ConnectDeviceOptions,
  type ConnectCertificateDeviceOptions,
  type DeviceHandleOptions,
  type DeviceClientOptions,
  type PostOptions,
  type EventPostOptions,
  type DevicePublishOptions,
} from './device-options.js';
export type { Device, DeviceEvents, AlinkRequestHandler, RrpcHandler } from './device-types.js';
export type { CertificateDeviceOptions } from './identity.js';
export {
  ALINK_REPLY_CODES,
  AlinkReplyError,
  AlinkHandlerError,
  DeviceError,
  type DeviceErrorCode,
} from './errors.js';
export { registerDevice, RegistrationError, type RegisterDeviceOptions, type RegistrationErrorCode } from './register.js';
export { registerDeviceOverMqtt, type RegisterOverMqttOptions } from './register-mqtt.js';
export {
  downloadFirmware,
  OtaDownloadError,
  partialPath,
  discardPartial,
  type FirmwareFile,
  type DownloadFirmwareOptions,
  type DownloadProgress,
  type DownloadResult,
  type OtaDownloadErrorCode,
} from './ota-download.js';
export { type ServiceRequestOptions } from './service-link.js';
export { syncTime, type SyncTimeOptions, type TimeSync } from './ntp.js';
export { updateTags, deleteTags } from './tags.js';
export { getConfig, onConfigPush, type ConfigPushHandler } from './config.js';
export { fetchConfigFile, ConfigFileError, type ConfigFileErrorCode, type FetchConfigFileOptions } from './config-file.js';
export {
  openShadow,
  ShadowReplyError,
  type DeviceShadow,
  type DeviceShadowEvents,
  type ShadowDocument,
  type ShadowDelta,
  type ShadowWriteOptions,
} from './shadow.js';
export { SHADOW_ERROR_CODES } from './shadow-codes.js';
export {
  createOta,
  type DeviceOta,
  type DeviceOtaEvents,
  type OtaOptions,
  type OtaTask,
  type OtaTaskStatus,
  type OtaFirmware,
  type OtaProgress,
} from './ota.js';
export { OtaError, type OtaErrorCode } from './ota-errors.js';
export { connectGateway, createGateway } from './gateway.js';
export type {
  Gateway,
  GatewayEvents,
  GatewayOptions,
  GatewayRequestOptions,
  SubDeviceLoginOptions,
  GatewayPackInput,
  SubDeviceNotice,
  SubDeviceNoticeKind,
  ReloginReport,
} from './gateway-types.js';
export type { SubDevice, SubDeviceEvents, SubDeviceOfflineReason } from './sub-device.js';
export type { GatewaySubscriptions } from './gateway-topics.js';
export { GatewayError, GatewayReplyError, GatewayLoginError, type GatewayErrorCode, type FailedLogin } from './gateway-errors.js';
export { GATEWAY_REPLY_CODES, GATEWAY_REPLY_MESSAGES, gatewayReplyHint } from './gateway-codes.js';
