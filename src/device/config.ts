/*
 * Remote configuration on a connected device: ask for the product's configuration file
 * (`thing.config.get` on `/sys/{pk}/{dn}/thing/config/get`, answered on `_reply`), and take the
 * files the platform pushes (`thing.config.push` on `.../thing/config/push`, answered on
 * `push_reply`). Either way the platform describes a file to download from an https URL and check
 * against its size and digest (`fetchConfigFile`). Formats and sources: `src/aliyun/services/config.ts`.
 */
import { buildAlinkReply } from '../aliyun/alink/payload.js';
import type { AlinkReplyInput } from '../aliyun/alink/payload.js';
import { readRequestId } from '../aliyun/alink/request-id.js';
import { serviceTopic, SERVICE_METHODS } from '../aliyun/service-topics.js';
import { buildConfigGet, parseConfigPush, readConfigFile } from '../aliyun/services/config.js';
import type { ConfigFile } from '../aliyun/services/config.js';
import { PlatformPayloadError } from '../aliyun/wire/errors.js';
import { isJsonObject } from '../aliyun/wire/read.js';
import { ConfigurationError } from '../shared/errors.js';
import { describeValue } from '../shared/validate.js';
import type { Device } from './device-types.js';
import { ALINK_REPLY_CODES, AlinkHandlerError, DeviceError } from './errors.js';
import { serviceLink } from './service-link.js';
import type { ServiceLink, ServiceRequestOptions } from './service-link.js';

/**
 * Asks for the product's configuration file. Resolves with its description (`configId`,
 * `configSize`, `sign`, `signMethod`, `url`, `getType`), or `undefined` when the platform answers
 * with no file (none was ever published for the product).
 *
 * @example
 * const config = await getConfig(device);
 * if (config !== undefined) apply(JSON.parse((await fetchConfigFile(config)).toString('utf8')));
 * @throws ConfigurationError for bad options, before anything is sent.
 * @throws AlinkReplyError with the platform's code and message; DeviceError `reply-timeout`,
 *   `malformed-reply` (the answer, or the file it describes, cannot be read) or `device-ended`.
 */
export async function getConfig(device: Device, options?: ServiceRequestOptions): Promise<ConfigFile | undefined> {
  const link = serviceLink(device);
  const timeout = link.timeout(options);
  const id = link.ids.next();
  const payload = buildConfigGet({ id });
  const reply = await link.alinkRequest({
    id,
    method: SERVICE_METHODS.configGet,
    topic: serviceTopic('config-get', device),
    replyTopic: serviceTopic('config-get', device, { reply: true }),
    payload,
    timeout,
    read: readConfigData,
  });
  return reply.data as ConfigFile | undefined;
}

/** A get reply's data: no data or `{}` means no file; anything else must describe one. */
function readConfigData(data: unknown): ConfigFile | undefined {
  if (data === undefined || data === null || (isJsonObject(data) && Object.keys(data).length === 0)) return undefined;
  return Object.freeze(readConfigFile(data, 'data'));
}

/**
 * Handles a configuration file the platform pushes. It gets the file's description and the push's
 * id; once it returns (or its promise resolves) the push is answered with 200 on `push_reply`.
 * Throwing an `AlinkHandlerError` answers with its code; any other throw answers 400 and is
 * reported on the device's `error` event (`handler-failed`).
 */
export type ConfigPushHandler = (config: ConfigFile, id: string) => unknown;

interface PushState {
  handler: ConfigPushHandler | undefined;
}

const pushes = new WeakMap<ServiceLink, PushState>();

/**
 * Registers the handler of configuration pushes and subscribes to `thing/config/push`. Resolves,
 * once the subscription is in place, with a function that removes the handler (pushes are then
 * answered with 100501 "not supported", as the device answers any request it has no handler for).
 *
 * A push that cannot be read is reported on the device's `error` event (`malformed-request`) and
 * answered with 460 when its id can be read.
 *
 * @throws ConfigurationError for a handler that is not a function, or when one is registered already.
 */
export async function onConfigPush(device: Device, handler: ConfigPushHandler): Promise<() => void> {
  const link = serviceLink(device);
  if (typeof handler !== 'function') throw new ConfigurationError('handler', `got ${describeValue(handler)}; give a function`);
  let state = pushes.get(link);
  if (state === undefined) {
    const created: PushState = { handler: undefined };
    link.handle(serviceTopic('config-push', device), (payload) => pushArrived(link, created, payload));
    pushes.set(link, created);
    state = created;
  }
  if (state.handler !== undefined) {
    throw new ConfigurationError('handler', 'configuration pushes have a handler already; call the function that registered it returned, to remove it first');
  }
  state.handler = handler;
  const registered = state;
  try {
    await link.subscribe(serviceTopic('config-push', device));
  } catch (error) {
    if (registered.handler === handler) registered.handler = undefined;
    throw error;
  }
  return () => {
    if (registered.handler === handler) registered.handler = undefined;
  };
}

function pushArrived(link: ServiceLink, state: PushState, payload: Uint8Array): void {
  const topic = serviceTopic('config-push', link.device);
  const replyTopic = serviceTopic('config-push', link.device, { reply: true });
  let push: { readonly id: string; readonly config: ConfigFile };
  try {
    push = parseConfigPush(payload);
  } catch (error) {
    if (!(error instanceof PlatformPayloadError)) throw error;
    const id = readRequestId(payload);
    link.report(
      new DeviceError(
        'malformed-request',
        `cannot read the configuration push on ${topic} (${error.message}); ` +
          (id === undefined ? 'it has no readable id, so it cannot be answered' : `answered ${ALINK_REPLY_CODES.requestParameterError}`),
        { cause: error },
      ),
    );
    if (id !== undefined) answer(link, replyTopic, { id, code: ALINK_REPLY_CODES.requestParameterError, message: `request parameter error: ${error.message}` });
    return;
  }
  const handler = state.handler;
  if (handler === undefined) {
    link.report(new DeviceError('no-handler', `no handler for ${SERVICE_METHODS.configPush} (id ${push.id}); answered ${ALINK_REPLY_CODES.notSupported}: register one with onConfigPush`));
    answer(link, replyTopic, { id: push.id, code: ALINK_REPLY_CODES.notSupported, message: 'not supported: this device has no handler for configuration pushes' });
    return;
  }
  void (async () => {
    let reply: AlinkReplyInput;
    try {
      await handler(Object.freeze(push.config), push.id);
      reply = { id: push.id };
    } catch (error) {
      if (error instanceof AlinkHandlerError) {
        reply = { id: push.id, code: error.code, message: error.message, data: error.data };
      } else {
        const reason = error instanceof Error ? error.message : String(error);
        link.report(new DeviceError('handler-failed', `the configuration push handler failed (${reason}); answered ${ALINK_REPLY_CODES.requestError}`, { cause: error }));
        reply = { id: push.id, code: ALINK_REPLY_CODES.requestError, message: 'request error: the device failed to apply the configuration' };
      }
    }
    answer(link, replyTopic, reply);
  })();
}

/** Publishes an answer at QoS 0, as the device answers every request from the cloud. */
function answer(link: ServiceLink, topic: string, reply: AlinkReplyInput): void {
  let text: string;
  try {
    text = buildAlinkReply(reply);
  } catch (error) {
    link.report(new DeviceError('handler-failed', `the answer to ${SERVICE_METHODS.configPush} cannot be sent (${(error as Error).message})`, { cause: error }));
    text = buildAlinkReply({ id: reply.id, code: ALINK_REPLY_CODES.requestError, message: 'request error: the device could not send its answer' });
  }
  link.device.client.publish(topic, text, { qos: 0 }).catch((error: Error) => {
    if (link.usable) link.report(new DeviceError('reply-failed', `could not answer ${SERVICE_METHODS.configPush} on ${topic}: ${error.message}`, { cause: error }));
  });
}
