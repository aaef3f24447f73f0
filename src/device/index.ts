/** A device on the platform over an MQTT session: `connectDevice` and its Alink request/reply handle. */
export {
  connectDevice,
  DEFAULT_REPLY_TIMEOUT,
  type Device,
  type DeviceEvents,
  type ConnectDeviceOptions,
  type DeviceClientOptions,
  type PostOptions,
  type EventPostOptions,
  type DevicePublishOptions,
  type AlinkRequestHandler,
  type RrpcHandler,
} from './device.js';
export {
  ALINK_REPLY_CODES,
  AlinkReplyError,
  AlinkHandlerError,
  DeviceError,
  type DeviceErrorCode,
} from './errors.js';
export { registerDevice, RegistrationError, type RegisterDeviceOptions, type RegistrationErrorCode } from './register.js';
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
