/** OTA formats: version reports, upgrade jobs, progress, firmware queries. Pure. */
export {
  DEFAULT_OTA_MODULE,
  OTA_FAILURE,
  buildOtaVersion,
  parseOtaVersion,
  parseOtaJob,
  buildOtaJob,
  parseFirmwareGetReply,
  buildOtaProgress,
  parseOtaProgress,
  buildFirmwareGet,
  parseFirmwareGet,
  type OtaJob,
  type OtaJobMessage,
  type OtaJobInput,
  type OtaProgressInput,
} from './ota.js';
