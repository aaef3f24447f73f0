/** Why an emulator operation failed; tests and callers branch on this, not on messages. */
export type EmulatorErrorCode =
  /** The emulator could not listen on its host and port. */
  | 'listen-failed'
  /** No connection of that device is open. */
  | 'not-connected'
  /** The device has no subscription matching the topic the request goes to, so it would never see it. */
  | 'not-subscribed'
  /** `pushOtaJob` for a device and module that have an open job already. */
  | 'ota-job-active'
  /** `cancelOtaJob` with an id no job has. */
  | 'ota-job-unknown'
  /** The device did not answer within the timeout. */
  | 'reply-timeout'
  /** The device's connection ended before it answered. */
  | 'disconnected'
  /** A subscriber's connection ended before it acknowledged a QoS 1 delivery. */
  | 'not-acknowledged'
  /** All 65,535 packet identifiers of the connection are waiting for PUBACK. */
  | 'no-free-packet-id'
  /** The emulator was closed. */
  | 'closed'
  /** `issueCertificate` for a device the emulator does not know. */
  | 'not-registered'
  /** `issueCertificate` on an emulator not in X.509 mode. */
  | 'x509-off';

/** An emulator operation failed. `code` says why; the message says what to do about it. */
export class EmulatorError extends Error {
  override readonly name = 'EmulatorError';
  readonly code: EmulatorErrorCode;

  constructor(code: EmulatorErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}
