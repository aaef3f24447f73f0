/**
 * The Alink reply codes this project sends: the device answering the cloud, and the stand-in
 * answering a device's post the way the platform does. 200, 400, 429 and 460 are the platform's
 * general codes; the platform has no general code for "this device does not implement that", so
 * `notSupported` is taken from the range it sets aside for device-specific codes
 * (100000..110000), read as "501 Not Implemented" in that range.
 */
export const ALINK_REPLY_CODES = Object.freeze({
  /** The request was handled. */
  success: 200,
  /** "request error": the device failed while handling the request (a handler threw). */
  requestError: 400,
  /** "too many requests": the device cannot keep up; for handlers to throw with `AlinkHandlerError`. */
  tooManyRequests: 429,
  /** "request parameter error": the request could not be read (bad JSON, bad fields). */
  requestParameterError: 460,
  /** No handler is registered for the request's method on this device. */
  notSupported: 100_501,
});
