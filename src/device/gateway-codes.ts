/**
 * The reply codes of the gateway's requests (topology, sub-device registration and sessions) and
 * of the notices the platform sends a gateway about its sub-devices, with the platform's own
 * message for each and what a gateway's program can do about it. The gateway reads them; the
 * stand-in answers with them.
 *
 * Sources:
 * - login and logout: help.aliyun.com/document_detail/89300 (子设备上下线), its error table: 460
 *   "request parameter error", 429 "rate limit, too many subDeviceOnline msg in one minute", 428
 *   "too many subdevices under gateway", 6401 "topo relation not exist", 6100 "device not
 *   found", 521 "device deleted", 522 "device forbidden", 6287 "invalid sign"; logout: 520
 *   "device no session".
 * - notices on `/ext/error/{gateway}`: the platform's "Error codes for sub-device development"
 *   page (子设备开发错误码): a sub-device forced offline, 427 "device connect in elsewhere", 521,
 *   522, 6401; a message from a sub-device without a session, 520 "device session error". The
 *   same page limits a sub-device to five logins a minute (429).
 * - topology add and sub-device registration: help.aliyun.com/document_detail/89299 as quoted
 *   in docs/platform-formats.md: 460, 401 "request auth error", 6402 "topo relation cannot add by
 *   self"; the general codes of help.aliyun.com/document_detail/120329: 6100 device not found,
 *   6204 device disabled.
 */

export const GATEWAY_REPLY_CODES = Object.freeze({
  /** The request could not be read, or is over a count limit. */
  requestParameterError: 460,
  /** A sub-device logged in more than five times in a minute. */
  tooManyRequests: 429,
  /** The gateway has the most sub-devices online it may have. */
  tooManySubDevices: 428,
  /** A sub-device's signature in a topology add did not verify. */
  authError: 401,
  /** The sub-device has no session (any more), or none through this gateway. */
  noSession: 520,
  /** The sub-device was deleted in the console. */
  deviceDeleted: 521,
  /** The sub-device was disabled in the console. */
  deviceForbidden: 522,
  /** The same sub-device logged in elsewhere (through another gateway, or on its own). */
  connectedElsewhere: 427,
  /** No such device. */
  deviceNotFound: 6100,
  /** The device is disabled (general code). */
  deviceDisabled: 6204,
  /** The sub-device is not in this gateway's topology. */
  topologyNotFound: 6401,
  /** A gateway cannot be its own sub-device. */
  cannotAddSelf: 6402,
  /** A sub-device's login signature did not verify. */
  invalidSign: 6287,
});

/** The platform's message for each code, as its pages print them. */
export const GATEWAY_REPLY_MESSAGES: Readonly<Record<number, string>> = Object.freeze({
  460: 'request parameter error',
  429: 'rate limit, too many subDeviceOnline msg in one minute',
  428: 'too many subdevices under gateway',
  401: 'request auth error',
  520: 'device no session',
  521: 'device deleted',
  522: 'device forbidden',
  427: 'device connect in elsewhere',
  6100: 'device not found',
  6204: 'device is disabled',
  6401: 'topo relation not exist',
  6402: 'topo relation cannot add by self',
  6287: 'invalid sign',
});

const HINTS: Readonly<Record<number, string>> = Object.freeze({
  460: 'a field or count the platform refuses: see the message',
  429: 'a sub-device may log in at most five times a minute; wait before logging it in again',
  428: 'the gateway has 2,000 sub-devices online already: log some out first, or use another gateway',
  401: "a sub-device's signature did not verify: check its DeviceSecret",
  520: 'the sub-device has no session through this gateway: log it in',
  521: 'the sub-device was deleted in the console',
  522: 'the sub-device is disabled in the console: enable it there first',
  427: 'the same sub-device logged in elsewhere (another gateway, or on its own connection)',
  6100: 'no such device: check its productKey and deviceName against the console',
  6204: 'the device is disabled in the console: enable it there first',
  6401: 'the sub-device is not in this gateway\'s topology: add it with addTopology first',
  6402: 'a gateway cannot be its own sub-device',
  6287: "the sub-device's signature did not verify: check its DeviceSecret",
});

/** What a program can do about `code`, or `undefined` for a code without advice. */
export function gatewayReplyHint(code: number): string | undefined {
  return HINTS[code];
}
