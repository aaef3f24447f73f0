/*
 * Dynamic registration over HTTPS (one secret per product): a device that knows only its
 * product's ProductKey and ProductSecret, and its own DeviceName, asks the platform for its
 * DeviceSecret, then connects with `connectDevice` as any device does.
 *
 * The form and the answer are the platform's (see `src/aliyun/register/https.ts` for their
 * sources); this module carries them over `node:https` on a connection the transport opens (IPv6
 * first, the platform's root CAs, SNI, timeouts).
 *
 * @example
 * const credentials = await registerDevice({ productKey, productSecret, deviceName: 'meter-0042' });
 * const device = await connectDevice({ ...credentials, endpoint: 'product' });
 */
import type { SignMethod } from '../sign/types.js';
import { systemClock } from '../shared/clock.js';
import type { Clock } from '../shared/clock.js';
import { ConfigurationError } from '../shared/errors.js';
import { requireIntegerIn, requireText } from '../shared/validate.js';
import { checkRegion, DEFAULT_REGION } from '../aliyun/endpoints.js';
import type { AliyunRegion } from '../aliyun/endpoints.js';
import { buildRegisterForm, parseRegisterAnswer, REGISTER_PATH, registerHost } from '../aliyun/register/https.js';
import type { DeviceCredentials } from '../aliyun/register/https.js';
import { PlatformPayloadError } from '../aliyun/wire/errors.js';
import { TransportError } from '../transport/errors.js';
import type { ConnectionChoices } from './https-request.js';
import { fetchAnswer, MAX_TIMER, resolveTarget } from './https-request.js';
import { HttpResponseError } from './http-response.js';

/** What {@link registerDevice} needs. */
export interface RegisterDeviceOptions extends ConnectionChoices {
  readonly productKey: string;
  readonly deviceName: string;
  /** The product's ProductSecret. Never printed, never in an error. */
  readonly productSecret: string;
  /** Default `cn-shanghai`; picks the host `iot-auth.${region}.aliyuncs.com`. */
  readonly region?: AliyunRegion | undefined;
  /** Another host than the region's (a proxy, the local stand-in); an IPv6 literal may be bracketed. */
  readonly host?: string | undefined;
  /** Default 443. */
  readonly port?: number | undefined;
  /** Default `hmacsha256`. */
  readonly signMethod?: SignMethod | undefined;
  /** Default: 16 fresh random hex digits. */
  readonly random?: string | undefined;
  /** Milliseconds the whole registration may take, connection included; default 15000. */
  readonly timeout?: number | undefined;
  /** Cancels the registration. */
  readonly signal?: AbortSignal | undefined;
  /** Arms the `timeout`; default the system clock (tests pass a virtual one). */
  readonly clock?: Clock | undefined;
}

/** Why a registration failed. */
export type RegistrationErrorCode =
  /** The platform answered with a code other than 200: `platformCode` and `platformMessage` say why (a wrong ProductSecret, an unknown device, a product closed to dynamic registration, a device already active). */
  | 'refused'
  /** The answer was not the platform's JSON (`cause` is the PlatformPayloadError), or was for another device. */
  | 'malformed-answer'
  /** An HTTP status other than 200 with no platform answer in the body; `status` holds it. */
  | 'http-status'
  /** The connection could not be opened or broke (`cause` is the TransportError or socket error). */
  | 'network'
  /** No answer within `timeout`. */
  | 'timeout'
  /** `signal` aborted (`cause` is its reason). */
  | 'aborted';

/** A failed registration. Branch on `code`. The message never holds the ProductSecret or a DeviceSecret. */
export class RegistrationError extends Error {
  override readonly name = 'RegistrationError';
  readonly code: RegistrationErrorCode;
  /** For `refused`: the platform's code. */
  readonly platformCode: number | undefined;
  /** For `refused`: the platform's message. */
  readonly platformMessage: string | undefined;
  /** For `http-status` (and `refused` when it came with one): the HTTP status. */
  readonly status: number | undefined;

  constructor(
    code: RegistrationErrorCode,
    message: string,
    details: { cause?: unknown; platformCode?: number; platformMessage?: string | undefined; status?: number } = {},
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.code = code;
    this.platformCode = details.platformCode;
    this.platformMessage = details.platformMessage;
    this.status = details.status;
  }
}

/** The largest answer read: the platform's is a few hundred bytes. */
const MAX_ANSWER_BYTES = 64 * 1024;

/**
 * Registers a device of a product open to dynamic registration and returns its triple, which
 * `connectDevice` accepts as it is (spread it into the options). The returned object prints its
 * secret as `[redacted]`. Store the secret: the platform gives it once, and refuses to register a
 * device that has already connected.
 *
 * Every option is checked before any connection is opened.
 *
 * @throws ConfigurationError for a bad option (rejected before any I/O).
 * @throws RegistrationError `refused` with the platform's code and message, `malformed-answer`,
 *   `http-status`, `network`, `timeout` or `aborted`.
 */
export async function registerDevice(options: RegisterDeviceOptions): Promise<Readonly<DeviceCredentials>> {
  if (typeof options !== 'object' || options === null) {
    throw new ConfigurationError('options', 'expected an object with productKey, deviceName and productSecret');
  }
  const region = checkRegion(options.region ?? DEFAULT_REGION);
  const host = options.host === undefined ? registerHost(region) : requireText('host', options.host, 'give a host name or IP address');
  const target = resolveTarget(host, options.port ?? 443, options);
  const timeout = requireIntegerIn('timeout', options.timeout ?? 15_000, 1, MAX_TIMER, 'give milliseconds, e.g. 15000');
  const signal = checkSignal(options.signal);
  const body = buildRegisterForm(options);
  const device = { productKey: options.productKey, deviceName: options.deviceName };

  const clock = options.clock ?? systemClock;
  const deadline = new AbortController();
  const timer = clock.setTimeout(() => deadline.abort(new RegistrationError('timeout', `no answer from ${host} within ${timeout} ms`)), timeout);
  const onAbort = (): void => deadline.abort(new RegistrationError('aborted', 'the registration was aborted', { cause: signal?.reason }));
  if (signal?.aborted === true) onAbort();
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const answer = await fetchAnswer(
      target,
      {
        method: 'POST',
        path: REGISTER_PATH,
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/xml,text/javascript,text/html,application/json' },
        body,
      },
      MAX_ANSWER_BYTES,
      deadline.signal,
    );
    return credentialsFrom(answer.status, answer.body.toString('utf8'), device);
  } catch (error) {
    throw asRegistrationError(error, deadline.signal, host);
  } finally {
    clock.clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort);
  }
}

function credentialsFrom(status: number, text: string, device: { productKey: string; deviceName: string }): Readonly<DeviceCredentials> {
  let answer;
  try {
    answer = parseRegisterAnswer(text);
  } catch (cause) {
    if (status !== 200) throw new RegistrationError('http-status', `the registration server answered HTTP ${status} without a platform answer`, { status, cause });
    throw new RegistrationError('malformed-answer', `the registration answer is not the platform's: ${(cause as Error).message}`, { cause });
  }
  if (!answer.ok) {
    throw new RegistrationError(
      'refused',
      `the platform refused to register ${device.productKey}/${device.deviceName}: code ${answer.code}` +
        (answer.message === undefined ? '' : ` (${answer.message})`) +
        '; check the ProductSecret, that the device exists in the console (pre-registration), that the product has dynamic registration on, and that the device has not connected yet',
      { platformCode: answer.code, platformMessage: answer.message, status },
    );
  }
  const { credentials } = answer;
  if (credentials.productKey !== device.productKey || credentials.deviceName !== device.deviceName) {
    throw new RegistrationError('malformed-answer', `the registration answer is for ${credentials.productKey}/${credentials.deviceName}, not ${device.productKey}/${device.deviceName}`);
  }
  return credentials;
}

function asRegistrationError(error: unknown, deadline: AbortSignal, host: string): unknown {
  if (deadline.aborted && deadline.reason instanceof RegistrationError) return deadline.reason;
  if (error instanceof RegistrationError || error instanceof ConfigurationError) return error;
  if (error instanceof PlatformPayloadError) return new RegistrationError('malformed-answer', error.message, { cause: error });
  if (error instanceof HttpResponseError) return new RegistrationError('malformed-answer', `the registration server's answer is not HTTP as expected: ${error.message}`, { cause: error });
  const detail = error instanceof TransportError ? error.message : `the connection to ${host} failed: ${(error as Error)?.message ?? String(error)}`;
  return new RegistrationError('network', detail, { cause: error });
}

function checkSignal(signal: unknown): AbortSignal | undefined {
  if (signal === undefined) return undefined;
  if (typeof signal !== 'object' || signal === null || typeof (signal as AbortSignal).addEventListener !== 'function' || typeof (signal as AbortSignal).aborted !== 'boolean') {
    throw new ConfigurationError('signal', 'expected an AbortSignal');
  }
  return signal as AbortSignal;
}
