/**
 * What a device handle reports and throws: its own failures (`DeviceError`, branch on `code`), a
 * post the platform answered with an error (`AlinkReplyError`), the error a handler throws to
 * answer with a code of its choosing (`AlinkHandlerError`), and the reply codes the handle sends.
 */
import { ConfigurationError } from '../shared/errors.js';
import { ALINK_REPLY_CODES } from '../aliyun/alink/codes.js';
import type { AlinkReply } from '../aliyun/alink/payload.js';

/** The reply codes the device answers with; they live with the platform profile, which the stand-in shares. */
export { ALINK_REPLY_CODES };

/** Why a device operation failed, or what the device reports on its `error` event. */
export type DeviceErrorCode =
  /** A post got no `_reply` with its id within the reply timeout. */
  | 'reply-timeout'
  /** `end()` was called, or the client ended, before the operation completed. */
  | 'device-ended'
  /** An incoming request could not be read (`cause` is the AlinkPayloadError); answered with 460 when its id could be read. */
  | 'malformed-request'
  /** A `_reply` to a post could not be read (`cause` is the AlinkPayloadError); the post it answers times out. */
  | 'malformed-reply'
  /** A request arrived for which no handler is registered; it was answered with `ALINK_REPLY_CODES.notSupported`. */
  | 'no-handler'
  /** A handler threw or rejected (`cause`), or returned data that cannot be sent; the cloud got a 400 reply. */
  | 'handler-failed'
  /** A reply or RRPC response could not be published (`cause` is the client's error). */
  | 'reply-failed'
  /** A certificate device got no identity from the platform in time after connecting. */
  | 'identity-timeout'
  /** The platform's identity message names another device than the productKey and deviceName given. */
  | 'identity-mismatch'
  /** The platform's identity message could not be read (`cause` is the AlinkPayloadError). */
  | 'malformed-identity';

/** A failure of the device handle. Branch on `code`; the message is for a log. */
export class DeviceError extends Error {
  override readonly name = 'DeviceError';
  readonly code: DeviceErrorCode;

  constructor(code: DeviceErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/**
 * The platform answered a post with a code other than 200. `code` is the platform's code (e.g.
 * 460 "request parameter error", or one of its 6xxx thing-model codes), `replyMessage` its
 * message, `id` the id the post and the reply share.
 */
export class AlinkReplyError extends Error {
  override readonly name = 'AlinkReplyError';
  /** The reply's code, never 200. */
  readonly code: number;
  /** The id of the request and its reply. */
  readonly id: string;
  /** The method of the request that was refused, e.g. `thing.event.property.post`. */
  readonly method: string;
  /** The reply's own `message`, when it has one. */
  readonly replyMessage: string | undefined;
  /** The whole reply as read. */
  readonly reply: AlinkReply;

  constructor(method: string, reply: AlinkReply) {
    super(
      `the platform answered ${method} (id ${reply.id}) with code ${reply.code}` +
        (reply.message === undefined ? '' : `: ${reply.message}`),
    );
    this.code = reply.code;
    this.id = reply.id;
    this.method = method;
    this.replyMessage = reply.message;
    this.reply = reply;
  }
}

/**
 * Thrown (or rejected) by a property set, service or RRPC handler to answer with a code of its
 * own instead of the generic 400, e.g. 460 for parameters it refuses or a device-specific code
 * in 100000..110000. It is a deliberate answer, so the device does not report it as an error.
 *
 * @example
 * device.onService('setSpeed', ({ speed }) => {
 *   if (typeof speed !== 'number') throw new AlinkHandlerError(460, 'speed must be a number');
 *   motor.speed = speed;
 * });
 */
export class AlinkHandlerError extends Error {
  override readonly name = 'AlinkHandlerError';
  /** The reply code; any integer but 200. */
  readonly code: number;
  /** The reply's `data`; `{}` when not given. */
  readonly data: unknown;

  /** @throws ConfigurationError (`code`) unless `code` is an integer other than 200. */
  constructor(code: number, message: string, options?: { data?: unknown; cause?: unknown }) {
    if (!Number.isInteger(code) || code === ALINK_REPLY_CODES.success) {
      throw new ConfigurationError('code', `got ${String(code)}; an error reply needs an integer code other than 200, e.g. 460`);
    }
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.data = options?.data;
  }
}
