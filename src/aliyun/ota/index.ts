/** OTA formats: version reports, upgrade jobs, progress, firmware queries. Pure. */
export {
  DEFAULT_OTA_MODULE,
  OTA_FAILURE,
  buildOtaVersion,
  parseOtaJob,
  parseFirmwareGetReply,
  buildOtaProgress,
  buildFirmwareGet,
  type OtaJob,
  type OtaJobMessage,
  type OtaJobInput,
  type OtaProgressInput,
} from './ota.js';
