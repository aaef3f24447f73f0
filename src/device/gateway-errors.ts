/**
 * What a gateway and its sub-devices throw and report: their own failures (`GatewayError`, branch
 * on `code`), a request the platform refused (`GatewayReplyError`, with the platform's code and
 * message and what to do), and a batch login some of whose sub-devices did not get in
 * (`GatewayLoginError`).
 */
import type { AlinkReply } from '../aliyun/alink/payload.js';
import type { PlatformReply } from '../aliyun/wire/envelope.js';
import type { DeviceIdentity } from '../aliyun/wire/identity.js';
import { CodedError } from '../shared/errors.js';
import { AlinkReplyError } from './errors.js';
import { gatewayReplyHint } from './gateway-codes.js';

/** Why a gateway or sub-device operation failed. */
export type GatewayErrorCode =
  /** No reply with the request's id came within the reply timeout. */
  | 'reply-timeout'
  /** The platform's reply could not be read (`cause` is the PlatformPayloadError or AlinkPayloadError). */
  | 'malformed-reply'
  /** `end()` was called, or the gateway's client ended, before the operation completed. */
  | 'gateway-ended'
  /** The sub-device is not logged in (never, logged out, or forced offline: see the message). */
  | 'not-logged-in'
  /**
   * The platform answered a message of the sub-device with 520: it had no session, so the
   * message was not taken. The gateway logs the sub-device in again by itself; send again after.
   */
  | 'no-session'
  /** The platform refused a subscription the gateway needs (`cause` is the SubscribeError). */
  | 'subscribe-refused';

/** A failure of the gateway or of a sub-device. Branch on `code`; the message is for a log. */
export class GatewayError extends CodedError<GatewayErrorCode> {
  override readonly name = 'GatewayError';
}

/**
 * The platform refused a gateway request (topology, registration, login, logout, a packed or
 * history post) with a code other than 200. Beside what {@link AlinkReplyError} holds (`code`,
 * `replyMessage`, `reply`), it names the sub-devices the refusal's `data` lists (the ones at
 * fault, for a batch), and says what to do.
 */
export class GatewayReplyError extends AlinkReplyError {
  /** The sub-devices the refusal names, when its `data` lists any. */
  readonly subDevices: readonly DeviceIdentity[];
  /** What a program can do about the code, when the library knows. */
  readonly hint: string | undefined;

  constructor(what: string, reply: AlinkReply, subDevices: readonly DeviceIdentity[]) {
    super(what, reply);
    // AlinkReplyError names itself with a literal type; this one is still an AlinkReplyError.
    Object.defineProperty(this, 'name', { value: 'GatewayReplyError', enumerable: false, configurable: true, writable: false });
    this.subDevices = subDevices;
    this.hint = gatewayReplyHint(reply.code);
    const named = subDevices.length === 0 ? '' : ` (${describeDevices(subDevices)})`;
    this.message = `${this.message}${named}${this.hint === undefined ? '' : `; ${this.hint}`}`;
  }
}

/** One sub-device a login did not get in, and why. */
export interface FailedLogin extends DeviceIdentity {
  readonly error: Error;
}

/**
 * A login of several sub-devices where some did not get in. The ones that did are logged in and
 * usable; each of the others has its own error (a GatewayReplyError with the platform's code, a
 * GatewayError, or a ConfigurationError for credentials that cannot be signed).
 */
export class GatewayLoginError<T extends DeviceIdentity = DeviceIdentity> extends CodedError<'login-failed'> {
  override readonly name = 'GatewayLoginError';
  /** The sub-devices that are logged in now. */
  readonly loggedIn: readonly T[];
  /** The sub-devices that are not, each with its error. */
  readonly failed: readonly FailedLogin[];

  constructor(loggedIn: readonly T[], failed: readonly FailedLogin[]) {
    const first = failed[0]!;
    super(
      'login-failed',
      `${failed.length} of ${loggedIn.length + failed.length} sub-devices were not logged in ` +
        `(${describeDevices(failed)}); the first: ${first.error.message}`,
    );
    this.loggedIn = loggedIn;
    this.failed = failed;
  }
}

/** `a/b, c/d` for up to five devices, then how many more. */
export function describeDevices(devices: readonly DeviceIdentity[]): string {
  const named = devices.slice(0, 5).map((device) => `${device.productKey}/${device.deviceName}`);
  return devices.length > 5 ? `${named.join(', ')} and ${devices.length - 5} more` : named.join(', ');
}

/** @internal A refusal as a GatewayReplyError naming the sub-devices its `data` lists. */
export function refusalError(what: string, reply: Extract<PlatformReply<unknown>, { ok: false }>): GatewayReplyError {
  const named: DeviceIdentity[] = [];
  const data = Array.isArray(reply.data) ? reply.data : reply.data === undefined || reply.data === null ? [] : [reply.data];
  for (const item of data) {
    const { productKey, deviceName } = (item ?? {}) as Partial<DeviceIdentity>;
    if (typeof productKey === 'string' && typeof deviceName === 'string') named.push({ productKey, deviceName });
  }
  const alinkReply: AlinkReply = reply.message === undefined ? { id: reply.id, code: reply.code, data: reply.data } : { id: reply.id, code: reply.code, data: reply.data, message: reply.message };
  return new GatewayReplyError(what, alinkReply, named);
}
