/** What can be wrong with an incoming Alink request or reply payload. */
export type AlinkPayloadErrorCode =
  /** The bytes are not well-formed UTF-8. */
  | 'invalid-utf8'
  /** The text is not JSON. */
  | 'invalid-json'
  /** The JSON is not an object (an array, a string, null, ...). */
  | 'not-an-object'
  /** No `id` field. */
  | 'missing-id'
  /** `id` is not a non-empty string. */
  | 'bad-id'
  /** A request without `method`. */
  | 'missing-method'
  /** `method` is not a non-empty string. */
  | 'bad-method'
  /** `version` is present but not a string. */
  | 'bad-version'
  /** `params` is present but not an object. */
  | 'bad-params'
  /** A reply without `code`. */
  | 'missing-code'
  /** `code` is not an integer. */
  | 'bad-code'
  /** `message` is present but not a string. */
  | 'bad-message';

/**
 * An incoming Alink payload that cannot be read. Branch on `code`; the message says what was
 * wrong for a log.
 */
export class AlinkPayloadError extends Error {
  override readonly name = 'AlinkPayloadError';
  readonly code: AlinkPayloadErrorCode;

  constructor(code: AlinkPayloadErrorCode, message: string) {
    super(`${code}: ${message}`);
    this.code = code;
  }
}
