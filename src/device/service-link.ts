/*
 * What the device services (NTP, shadow, remote configuration, tags) share on one connected
 * device: a single `message` listener on its client that hands each service topic to its one
 * handler, subscriptions made once per filter (the client restores them after a reconnect),
 * request/reply over Alink with typed timeouts and failures, and one place that fails whatever
 * waits when the device ends. One link per device, made on first use.
 *
 * The services live above `connectDevice` and do not change it: their topics are not among the
 * filters it subscribes (`thing/event/+/post_reply`, `thing/service/#`, `rrpc/request/+`), so a
 * service subscribes to its own on first use, and nothing the device handles reaches a service.
 */
import type { Clock } from '../shared/clock.js';
import { debug } from '../shared/builtins.js';
import { ConfigurationError } from '../shared/errors.js';
import { describeValue, requireIntegerIn } from '../shared/validate.js';
import { MqttClient } from '../client/client.js';
import { MqttClientError } from '../client/errors.js';
import { AlinkPayloadError } from '../aliyun/alink/errors.js';
import { PlatformPayloadError } from '../aliyun/wire/errors.js';
import { AlinkIdGenerator } from '../aliyun/alink/id.js';
import { parseAlinkReply } from '../aliyun/alink/payload.js';
import type { AlinkReply } from '../aliyun/alink/payload.js';
import { PendingReplies } from '../aliyun/alink/pending.js';
import { readRequestId } from '../aliyun/alink/request-id.js';
import type { Device } from './device-types.js';
import { ALINK_REPLY_CODES, AlinkReplyError, DeviceError } from './errors.js';

/** The longest delay timers take. */
const MAX_TIMEOUT = 2_147_483_647;

/** Options every service request takes. */
export interface ServiceRequestOptions {
  /** Milliseconds to wait for the answer, 1..2147483647; default the device's `replyTimeout` (10 s). */
  readonly timeout?: number | undefined;
}

const links = new WeakMap<Device, ServiceLink>();

/**
 * The link of `device`, made on first use.
 *
 * @throws ConfigurationError (`device`) for anything but a handle from `connectDevice`.
 *
 * @internal
 */
export function serviceLink(device: Device): ServiceLink {
  if (typeof device !== 'object' || device === null || !(device.client instanceof MqttClient) || typeof device.replyTimeout !== 'number') {
    throw new ConfigurationError('device', `got ${describeValue(device)}; give the handle connectDevice resolved with`);
  }
  let link = links.get(device);
  if (link === undefined) {
    link = new ServiceLink(device);
    links.set(device, link);
  }
  return link;
}

/**
 * Reads the `data` of a successful reply into what the service returns.
 *
 * @throws PlatformPayloadError for data of the wrong shape: the request fails with `malformed-reply`.
 */
type DataReader = (data: unknown) => unknown;

/**
 * One Alink request of a service; see {@link ServiceLink.alinkRequest}.
 *
 * @internal
 */
export interface AlinkServiceRequest {
  readonly id: string;
  readonly method: string;
  readonly topic: string;
  readonly replyTopic: string;
  /** Built and checked already, so a bad argument never reaches the network. */
  readonly payload: string;
  readonly timeout: number;
  /** The reader of the success `data` on `replyTopic` (the first request on a topic sets it); default: as sent. */
  readonly read?: DataReader | undefined;
}

/** A listener the link calls with each message on one topic; it must not keep `payload` (a view into the socket's bytes). */
type TopicHandler = (payload: Uint8Array, topic: string) => void;

/** @internal */
export class ServiceLink {
  readonly device: Device;
  /** Ids of the services' Alink requests; their replies come on topics of their own, so they cannot meet the device's. */
  readonly ids = new AlinkIdGenerator();
  readonly #handlers = new Map<string, TopicHandler>();
  readonly #subscriptions = new Map<string, Promise<void>>();
  /** Alink requests waiting, one table per reply topic, with the reader of that topic's success data. */
  readonly #waiting = new Map<string, { readonly table: PendingReplies<AlinkReply>; readonly read: DataReader }>();
  readonly #onEnd = new Set<(error: DeviceError) => void>();
  #ended = false;

  constructor(device: Device) {
    this.device = device;
    device.client.on('message', (topic, payload) => {
      const handler = this.#handlers.get(topic);
      if (handler === undefined || this.#ended) return;
      try {
        handler(payload, topic);
      } catch (error) {
        // Nothing a message holds may escape into the client's socket handler.
        this.report(error instanceof Error ? error : new Error(String(error)));
      }
    });
    device.client.once('end', () => this.#end('the client ended'));
  }

  get clock(): Clock {
    return this.device.client.options.clock;
  }

  /** Whether the device can still send: `false` once its client is ending or ended. */
  get usable(): boolean {
    const state = this.device.client.state;
    return !this.#ended && state !== 'ending' && state !== 'ended';
  }

  /**
   * The timeout a call asked for, or the device's.
   *
   * @throws ConfigurationError (`options`, `timeout`).
   */
  timeout(options: ServiceRequestOptions | undefined): number {
    if (options === undefined) return this.device.replyTimeout;
    if (typeof options !== 'object' || options === null) {
      throw new ConfigurationError('options', `got ${describeValue(options)}; give { timeout } or leave it out`);
    }
    if (options.timeout === undefined) return this.device.replyTimeout;
    return requireIntegerIn('timeout', options.timeout, 1, MAX_TIMEOUT, `give whole milliseconds, 1..${MAX_TIMEOUT}`);
  }

  /** @throws DeviceError `device-ended` once the device cannot send, naming `what`. */
  checkUsable(what: string): void {
    if (!this.usable) throw new DeviceError('device-ended', `the device has ended; ${what} was not sent`);
  }

  /** Routes messages on exactly `topic` to `handler`; one handler per topic, set once. */
  handle(topic: string, handler: TopicHandler): void {
    if (!this.#handlers.has(topic)) this.#handlers.set(topic, handler);
  }

  /**
   * Subscribes to `filter` at QoS 1 once for the life of the device (the client restores it after
   * a reconnect). A failed SUBSCRIBE is forgotten, so the next call tries again.
   */
  subscribe(filter: string): Promise<void> {
    let subscribed = this.#subscriptions.get(filter);
    if (subscribed === undefined) {
      subscribed = this.device.client.subscribe(filter, { qos: 1 }).then(
        () => undefined,
        (error: unknown) => {
          this.#subscriptions.delete(filter);
          throw asEnded(error, `subscribing to ${filter}`);
        },
      );
      this.#subscriptions.set(filter, subscribed);
    }
    return subscribed;
  }

  /** Publishes a request at QoS 1, turning "the client ended" into `device-ended`. */
  async send(topic: string, payload: string, what: string): Promise<void> {
    try {
      await this.device.publish(topic, payload, { qos: 1 });
    } catch (error) {
      throw asEnded(error, what);
    }
  }

  /** Calls `listener` once, with the error that fails what waits, when the device ends. */
  onEnd(listener: (error: DeviceError) => void): () => void {
    this.#onEnd.add(listener);
    return () => this.#onEnd.delete(listener);
  }

  /**
   * An Alink request: `payload` (already built and checked, so a bad argument never reaches this
   * far) goes to `topic` at QoS 1 once `replyTopic` is subscribed, and the reply with the same id
   * on `replyTopic` settles it.
   *
   * @throws AlinkReplyError for a reply whose code is not 200, DeviceError `reply-timeout`,
   *   `malformed-reply` (see {@link ServiceLink.#alinkReplyArrived}) or `device-ended`; or the
   *   client's error when the request cannot be sent.
   */
  async alinkRequest(request: AlinkServiceRequest): Promise<AlinkReply> {
    const { id, method, topic, replyTopic, payload, timeout } = request;
    this.checkUsable(method);
    let waiting = this.#waiting.get(replyTopic);
    if (waiting === undefined) {
      waiting = { table: new PendingReplies<AlinkReply>(this.clock), read: request.read ?? ((data) => data) };
      this.#waiting.set(replyTopic, waiting);
      this.handle(replyTopic, (bytes, at) => this.#alinkReplyArrived(at, bytes));
    }
    const table = waiting.table;
    await this.subscribe(replyTopic);
    this.checkUsable(method);
    const reply = table.wait(id, {
      topic: replyTopic,
      timeout,
      what: method,
      onTimeout: () => new DeviceError('reply-timeout', `no reply to ${method} (id ${id}) on ${replyTopic} within ${timeout} ms`),
    });
    this.send(topic, payload, `${method} (id ${id})`).catch((error: Error) => table.reject(id, error));
    const answer = await reply;
    if (answer.code !== ALINK_REPLY_CODES.success) throw new AlinkReplyError(method, answer);
    return answer;
  }

  /**
   * A reply on an Alink reply topic. One that cannot be read fails the request it names by its id;
   * with no readable id, it fails the one request waiting on that topic, when only one waits (it
   * can answer nothing else), and is otherwise reported, leaving the requests to their timeout.
   */
  #alinkReplyArrived(topic: string, payload: Uint8Array): void {
    const { table, read } = this.#waiting.get(topic)!;
    let reply: AlinkReply;
    try {
      reply = parseAlinkReply(payload);
      if (reply.code === ALINK_REPLY_CODES.success) reply = { ...reply, data: read(reply.data) };
    } catch (error) {
      if (!(error instanceof AlinkPayloadError) && !(error instanceof PlatformPayloadError)) throw error;
      const id = readRequestId(payload);
      const failure = (what: string, waiting: string): DeviceError =>
        new DeviceError('malformed-reply', `cannot read the reply to ${what} (id ${waiting}) on ${topic}: ${error.message}`, { cause: error });
      if (id !== undefined && table.reject(id, failure('the request', id))) return;
      if (id === undefined && table.size === 1) {
        table.rejectAll((waiting, what) => failure(what, waiting));
        return;
      }
      this.report(new DeviceError('malformed-reply', `cannot read a reply on ${topic} (${error.message}); it answers no waiting request`, { cause: error }));
      return;
    }
    if (!table.settle(reply.id, topic, reply) && debug.enabled) debug('reply %s on %s matches no waiting request', reply.id, topic);
  }

  /** Hands `error` to the device's `error` listeners, or to the `NODE_DEBUG=aliot` log without one. */
  report(error: Error): void {
    if (debug.enabled) debug('device %s: %s', this.device.deviceName, error.message);
    if (this.device.listenerCount('error') > 0) this.device.emit('error', error);
  }

  #end(why: string): void {
    if (this.#ended) return;
    this.#ended = true;
    for (const { table } of this.#waiting.values()) {
      table.rejectAll((id, method) => new DeviceError('device-ended', `${why} before the reply to ${method} (id ${id}) came`));
    }
    const error = new DeviceError('device-ended', `${why} before the answer came`);
    for (const listener of [...this.#onEnd]) listener(error);
    this.#onEnd.clear();
  }
}

/**
 * The client's "ended" as the device's `device-ended`; any other error as it is.
 *
 * @internal
 */
export function asEnded(error: unknown, what: string): unknown {
  if (error instanceof MqttClientError && error.code === 'client-ended') {
    return new DeviceError('device-ended', `the device ended before ${what} completed`, { cause: error });
  }
  return error;
}
