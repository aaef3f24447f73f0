/**
 * A mistake in the options a caller passed, found before any byte goes on the wire.
 *
 * `field` names the option (e.g. `keepalive`, `deviceName`); the message says what was wrong and
 * how to fix it. Messages never include secrets (device secrets, passwords).
 */
export class ConfigurationError extends Error {
  override readonly name = 'ConfigurationError';
  readonly field: string;

  constructor(field: string, message: string) {
    super(`${field}: ${message}`);
    this.field = field;
  }
}
