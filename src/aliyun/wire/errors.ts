import type { AlinkPayloadErrorCode } from '../alink/errors.js';

/**
 * What can be wrong with a payload of the platform's device services (topology, sessions, dynamic
 * registration, NTP, shadow, configuration, tags, OTA): the envelope problems an Alink payload
 * can have, plus a field that is missing or of the wrong kind, or a request for another method.
 */
export type PlatformPayloadErrorCode =
  | AlinkPayloadErrorCode
  /** A field the format requires is absent. `field` names it. */
  | 'missing-field'
  /** A field is present but of the wrong kind or out of range. `field` names it. */
  | 'bad-field'
  /** A request whose `method` is not the one this topic carries. */
  | 'wrong-method';

/**
 * A payload of one of the platform's device services that cannot be read. Branch on `code`;
 * `field` is the JSON path of the offending field (`data[2].deviceName`), or `''` for the
 * payload as a whole. Messages say what was wrong but never quote a secret (device secrets,
 * tokens, signatures).
 */
export class PlatformPayloadError extends Error {
  override readonly name = 'PlatformPayloadError';
  readonly code: PlatformPayloadErrorCode;
  readonly field: string;

  constructor(code: PlatformPayloadErrorCode, field: string, message: string, options?: { cause?: unknown }) {
    super(`${code}${field === '' ? '' : ` (${field})`}: ${message}`, options);
    this.code = code;
    this.field = field;
  }
}
