/**
 * Answering the cloud's requests to a device (`connectDevice`'s handle) or a gateway's
 * sub-device, by the same rules: a property set or service call answered on its `_reply` topic,
 * an RRPC request on `rrpc/response/{messageId}`; an unreadable request with 460 when its id can
 * be read, one without a handler with `notSupported`, a handler's AlinkHandlerError with its own
 * code, any other throw with 400. Answers go at QoS 0, as the vendor SDKs send them: a lost
 * answer ends in the cloud's own timeout, and a late one after a reconnect is of no use to it.
 */
import { AlinkPayloadError } from '../aliyun/alink/errors.js';
import { buildAlinkReply, parseAlinkRequest } from '../aliyun/alink/payload.js';
import type { AlinkReplyInput, AlinkRequest } from '../aliyun/alink/payload.js';
import { readRequestId } from '../aliyun/alink/request-id.js';
import { checkPlatformPublish } from '../aliyun/limits.js';
import { describeValue } from '../shared/validate.js';
import type { AlinkRequestHandler, RrpcHandler } from './device-types.js';
import { ALINK_REPLY_CODES, AlinkHandlerError, DeviceError } from './errors.js';

/** Who answers: where answers go and where failures are reported. */
export interface Answerer {
  /** Publishes an answer at QoS 0. */
  publishAnswer(topic: string, payload: string | Uint8Array): Promise<void>;
  /** Reports what went wrong while answering (a DeviceError). */
  report(error: Error): void;
  /** `true` once answers are dropped on purpose (the device or the gateway is ending). */
  readonly ending: boolean;
}

/** Reads the request on `topic` and answers it on `replyTopic` with what `handler` returns. */
export function answerRequest(answerer: Answerer, topic: string, payload: Uint8Array, replyTopic: string, handler: AlinkRequestHandler | undefined): void {
  let request: AlinkRequest;
  try {
    request = parseAlinkRequest(payload);
  } catch (error) {
    if (!(error instanceof AlinkPayloadError)) throw error;
    const id = readRequestId(payload);
    const answered = id === undefined ? 'it has no readable id, so it cannot be answered' : `answered ${ALINK_REPLY_CODES.requestParameterError}`;
    answerer.report(new DeviceError('malformed-request', `cannot read the request on ${topic} (${error.message}); ${answered}`, { cause: error }));
    if (id !== undefined) {
      const reply = { id, code: ALINK_REPLY_CODES.requestParameterError, message: `request parameter error: ${error.message}` };
      void reply_(answerer, replyTopic, reply, `the unreadable request ${id}`);
    }
    return;
  }
  void answer(answerer, request, replyTopic, handler);
}

/**
 * An RRPC request: an Alink request whose method has a handler (`alinkHandler(method)`) goes to
 * it, as the platform calls synchronous services this way; anything else goes to `rrpc`.
 */
export function answerRrpc(
  answerer: Answerer,
  messageId: string,
  payload: Uint8Array,
  responseTopic: string,
  alinkHandler: (method: string) => AlinkRequestHandler | undefined,
  rrpc: RrpcHandler | undefined,
): void {
  const request = readAlinkRequest(payload);
  if (request !== undefined) {
    const handler = alinkHandler(request.method);
    if (handler !== undefined || rrpc === undefined) {
      void answer(answerer, request, responseTopic, handler);
      return;
    }
  }
  if (rrpc === undefined) {
    answerer.report(new DeviceError('no-handler', `no RRPC handler for RRPC ${messageId}; answered ${ALINK_REPLY_CODES.notSupported}: register one with onRrpc`));
    void reply_(answerer, responseTopic, notSupported(messageId, 'RRPC requests'), `RRPC ${messageId}`);
    return;
  }
  void answerRrpcWith(answerer, rrpc, messageId, Uint8Array.from(payload), responseTopic);
}

async function answer(answerer: Answerer, request: AlinkRequest, replyTopic: string, handler: AlinkRequestHandler | undefined): Promise<void> {
  const what = `${request.method} (id ${request.id})`;
  if (handler === undefined) {
    answerer.report(new DeviceError('no-handler', `no handler for ${what}; answered ${ALINK_REPLY_CODES.notSupported}: register one with onPropertySet or onService`));
    await reply_(answerer, replyTopic, notSupported(request.id, request.method), what);
    return;
  }
  let reply: AlinkReplyInput;
  try {
    reply = { id: request.id, code: ALINK_REPLY_CODES.success, data: await handler(request.params, request) };
  } catch (error) {
    reply = failedHandler(answerer, error, request.id, what);
  }
  await reply_(answerer, replyTopic, reply, what);
}

async function answerRrpcWith(answerer: Answerer, handler: RrpcHandler, messageId: string, payload: Uint8Array, responseTopic: string): Promise<void> {
  const what = `RRPC ${messageId}`;
  let response: Uint8Array | string;
  try {
    const result: unknown = await handler(payload, messageId);
    if (typeof result !== 'string' && !(result instanceof Uint8Array)) {
      throw new TypeError(`the RRPC handler returned ${describeValue(result)}; return a string or a Uint8Array`);
    }
    response = result;
    checkPlatformPublish(responseTopic, response, { qos: 0 });
  } catch (error) {
    await reply_(answerer, responseTopic, failedHandler(answerer, error, messageId, what), what);
    return;
  }
  await send(answerer, responseTopic, response, what);
}

/** The reply to a request whose handler threw: its own code for AlinkHandlerError, else 400 (reported). */
function failedHandler(answerer: Answerer, error: unknown, id: string, what: string): AlinkReplyInput {
  if (error instanceof AlinkHandlerError) return { id, code: error.code, message: error.message, data: error.data };
  const reason = error instanceof Error ? error.message : String(error);
  answerer.report(new DeviceError('handler-failed', `the handler for ${what} failed (${reason}); answered ${ALINK_REPLY_CODES.requestError}`, { cause: error }));
  return { id, code: ALINK_REPLY_CODES.requestError, message: 'request error: the device failed to handle the request' };
}

/** Sends an Alink reply; one that cannot be written or is too large becomes a 400 reply. */
async function reply_(answerer: Answerer, topic: string, reply: AlinkReplyInput, what: string): Promise<void> {
  let text: string;
  try {
    text = buildAlinkReply(reply);
    checkPlatformPublish(topic, text, { qos: 0 });
  } catch (error) {
    answerer.report(new DeviceError('handler-failed', `the answer to ${what} cannot be sent (${(error as Error).message}); answered ${ALINK_REPLY_CODES.requestError}`, { cause: error }));
    text = buildAlinkReply({ id: reply.id, code: ALINK_REPLY_CODES.requestError, message: 'request error: the device could not send its answer' });
  }
  await send(answerer, topic, text, what);
}

async function send(answerer: Answerer, topic: string, payload: string | Uint8Array, what: string): Promise<void> {
  try {
    await answerer.publishAnswer(topic, payload);
  } catch (error) {
    if (answerer.ending) return; // ending drops unsent answers on purpose
    answerer.report(new DeviceError('reply-failed', `could not send the answer to ${what} on ${topic}: ${(error as Error).message}`, { cause: error }));
  }
}

function notSupported(id: string, what: string): AlinkReplyInput {
  return { id, code: ALINK_REPLY_CODES.notSupported, message: `not supported: this device has no handler for ${what}` };
}

/** The payload as an Alink request, or `undefined` when it is not one (a raw RRPC payload). */
function readAlinkRequest(payload: Uint8Array): AlinkRequest | undefined {
  try {
    return parseAlinkRequest(payload);
  } catch (error) {
    if (error instanceof AlinkPayloadError) return undefined;
    throw error;
  }
}
