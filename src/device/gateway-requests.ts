/**
 * The gateway's requests and their replies: one id sequence, the gateway's own requests
 * (topology, registration, logins, packed and history posts) waiting for their `_reply`, the
 * sub-devices' posts waiting for their `post_reply`, and replies that cannot be read.
 */
import { AlinkIdGenerator } from '../aliyun/alink/id.js';
import { AlinkPayloadError } from '../aliyun/alink/errors.js';
import { parseAlinkReply } from '../aliyun/alink/payload.js';
import type { AlinkReply } from '../aliyun/alink/payload.js';
import { PendingReplies } from '../aliyun/alink/pending.js';
import { readRequestId } from '../aliyun/alink/request-id.js';
import { GATEWAY_LIMITS } from '../aliyun/gateway/limits.js';
import { parseBatchSessionReply, parseSessionReply } from '../aliyun/gateway/session.js';
import { parseSubRegisterReply, parseTopologyReply } from '../aliyun/gateway/topology.js';
import { checkPlatformPublish } from '../aliyun/limits.js';
import { serviceTopic } from '../aliyun/service-topics.js';
import { readReply } from '../aliyun/wire/envelope.js';
import type { PlatformReply } from '../aliyun/wire/envelope.js';
import { PlatformPayloadError } from '../aliyun/wire/errors.js';
import { MqttClientError } from '../client/errors.js';
import { debug } from '../shared/builtins.js';
import { ConfigurationError } from '../shared/errors.js';
import { describeValue } from '../shared/validate.js';
import type { PostOptions } from './device-options.js';
import { GatewayError, refusalError } from './gateway-errors.js';
import { checkOptions, checkTimeout } from './gateway-options.js';
import type { GatewayContext } from './gateway-options.js';
import { REQUEST_KINDS } from './gateway-topics.js';
import type { GatewayRequestKind } from './gateway-topics.js';
import type { GatewayRequestOptions } from './gateway-types.js';

/**
 * Where the gateway's own request ids start. The gateway's Device counts its posts from 1 on the
 * same connection; the two sequences would meet only after two billion requests, so no id is
 * used twice for the gateway's own topics.
 */
const FIRST_GATEWAY_ID = 2_000_000_001;

/** A gateway request waiting for its reply: what to read the reply with. */
type ReplyReader = (payload: Uint8Array) => PlatformReply<unknown>;

const READERS: Readonly<Record<GatewayRequestKind, ReplyReader>> = {
  'topo-add': parseTopologyReply,
  'topo-get': parseTopologyReply,
  'topo-delete': parseTopologyReply,
  'sub-register': parseSubRegisterReply,
  login: parseSessionReply,
  'batch-login': parseBatchSessionReply,
  logout: parseSessionReply,
  'batch-logout': parseBatchSessionReply,
  'pack-post': (payload) => readReply(payload, (data) => data),
  'history-post': (payload) => readReply(payload, (data) => data),
};

/** The session topics go at QoS 0 only (page 89300); the gateway's other requests at QoS 1, as its posts. */
function requestQos(kind: GatewayRequestKind): 0 | 1 {
  return kind.includes('log') ? GATEWAY_LIMITS.sessionQos : 1;
}

/** @internal */
export class GatewayRequests {
  readonly #gateway: GatewayContext;
  readonly #ids = new AlinkIdGenerator(FIRST_GATEWAY_ID);
  /** The gateway's own requests waiting for their `_reply`, by id. */
  readonly #requests: PendingReplies<PlatformReply<unknown>>;
  /** Sub-devices' posts waiting for their `post_reply`, by id. */
  readonly posts: PendingReplies<AlinkReply>;
  /** The gateway's reply topics and what each answers. */
  readonly #replyKinds = new Map<string, GatewayRequestKind>();
  /** The last unreadable reply seen on a reply topic with no id, for the timeout that follows. */
  readonly #unreadable = new Map<string, Error>();

  constructor(gateway: GatewayContext) {
    this.#gateway = gateway;
    this.#requests = new PendingReplies(gateway.client.options.clock);
    this.posts = new PendingReplies(gateway.client.options.clock);
    for (const kind of REQUEST_KINDS) this.#replyKinds.set(serviceTopic(kind, gateway, { reply: true }), kind);
  }

  nextId(): string {
    return this.#ids.next();
  }

  /** What a reply on `topic` answers, when it is one of the gateway's reply topics. */
  replyKind(topic: string): GatewayRequestKind | undefined {
    return this.#replyKinds.get(topic);
  }

  /** Sends one gateway request and resolves with its reply; a refusal rejects with GatewayReplyError. */
  async request(kind: GatewayRequestKind, build: (id: string) => string, options: GatewayRequestOptions, qos: 0 | 1 = requestQos(kind)): Promise<PlatformReply<unknown>> {
    checkOptions(options);
    const gateway = this.#gateway;
    const timeout = options.timeout === undefined ? gateway.settings.replyTimeout : checkTimeout('timeout', options.timeout);
    if (gateway.ending) throw new GatewayError('gateway-ended', `the gateway has ended; ${describeKind(kind)} was not sent`);
    const id = this.#ids.next();
    const payload = build(id);
    const topic = serviceTopic(kind, gateway);
    const replyTopic = serviceTopic(kind, gateway, { reply: true });
    checkPlatformPublish(topic, payload, { qos });
    const what = describeKind(kind);
    const reply = this.#requests.wait(id, { topic: replyTopic, timeout, what, onTimeout: () => this.timeoutError(what, id, replyTopic, timeout) });
    gateway.client.publish(topic, payload, { qos }).catch((error: Error) => this.#requests.reject(id, this.sendFailed(error, what, id)));
    const answer = await reply;
    if (!answer.ok) throw refusalError(what, answer);
    return answer;
  }

  /** A packed or history post: a gateway request whose reply is an Alink reply. */
  async post(kind: 'pack-post' | 'history-post', build: (id: string) => string, options: PostOptions): Promise<AlinkReply> {
    checkOptions(options);
    if (options.qos !== undefined && options.qos !== 0 && options.qos !== 1) throw new ConfigurationError('qos', `got ${describeValue(options.qos)}; use 0 or 1`);
    const { id, code, data, message } = await this.request(kind, build, options, options.qos);
    return message === undefined ? { id, code, data } : { id, code, data, message };
  }

  sendFailed(error: Error, what: string, id: string): Error {
    if (error instanceof MqttClientError && error.code === 'client-ended') {
      return new GatewayError('gateway-ended', `the client ended before ${what} (id ${id}) went out`, { cause: error });
    }
    return error;
  }

  timeoutError(what: string, id: string, replyTopic: string, timeout: number): GatewayError {
    const unreadable = this.#unreadable.get(replyTopic);
    const seen = unreadable === undefined ? '' : `; an unreadable reply without an id arrived on that topic meanwhile (${unreadable.message})`;
    return new GatewayError('reply-timeout', `no reply to ${what} (id ${id}) on ${replyTopic} within ${timeout} ms${seen}`, unreadable === undefined ? undefined : { cause: unreadable });
  }

  replyArrived(kind: GatewayRequestKind, topic: string, payload: Uint8Array): void {
    let reply: PlatformReply<unknown>;
    try {
      reply = READERS[kind](payload);
    } catch (error) {
      if (!(error instanceof PlatformPayloadError)) throw error;
      this.#unreadableReply(this.#requests, topic, payload, error);
      return;
    }
    this.#unreadable.delete(topic);
    if (!this.#requests.settle(reply.id, topic, reply) && debug.enabled) debug('gateway: reply %s on %s matches no waiting request', reply.id, topic);
  }

  postReplyArrived(topic: string, payload: Uint8Array): void {
    let reply: AlinkReply;
    try {
      reply = parseAlinkReply(payload);
    } catch (error) {
      if (!(error instanceof AlinkPayloadError)) throw error;
      this.#unreadableReply(this.posts, topic, payload, error);
      return;
    }
    this.#unreadable.delete(topic);
    this.posts.settle(reply.id, topic, reply);
  }

  /** The gateway ended: everything waiting fails with `error(id, what)`. */
  failAll(error: (id: string, what: string) => Error): void {
    this.#requests.rejectAll(error);
    this.posts.rejectAll(error);
  }

  /**
   * A reply that cannot be read: the request with the id it still shows fails with
   * `malformed-reply`; without an id, the next timeout on that topic says what came.
   */
  #unreadableReply(table: { reject(id: string, error: Error): boolean }, topic: string, payload: Uint8Array, error: Error): void {
    const id = readRequestId(payload);
    const failure = new GatewayError('malformed-reply', `the reply on ${topic}${id === undefined ? '' : ` to id ${id}`} cannot be read: ${error.message}`, { cause: error });
    if (id !== undefined && table.reject(id, failure)) return;
    if (id === undefined) this.#unreadable.set(topic, error);
    this.#gateway.report(failure);
  }
}

function describeKind(kind: GatewayRequestKind): string {
  const names: Readonly<Record<GatewayRequestKind, string>> = {
    'topo-add': 'thing.topo.add',
    'topo-get': 'thing.topo.get',
    'topo-delete': 'thing.topo.delete',
    'sub-register': 'thing.sub.register',
    login: 'combine/login',
    'batch-login': 'combine/batch_login',
    logout: 'combine/logout',
    'batch-logout': 'combine/batch_logout',
    'pack-post': 'thing.event.property.pack.post',
    'history-post': 'thing.event.property.history.post',
  };
  return names[kind];
}
