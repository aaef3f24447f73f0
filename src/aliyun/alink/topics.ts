/**
 * Alink topics of one device: builders for every topic on the platform's page, subscription
 * filters, and a parser that tells what an incoming topic is.
 */
import { ConfigurationError } from '../../shared/errors.js';
import { forbidCharacters, requireText } from '../../shared/validate.js';

/** A topic that carries a request (and so has a `_reply` topic). */
export type AlinkRequestTopic =
  /** `/sys/{pk}/{dn}/thing/event/property/post`: device reports properties. */
  | { readonly kind: 'property-post' }
  /** `/sys/{pk}/{dn}/thing/event/{identifier}/post`: device reports an event. */
  | { readonly kind: 'event-post'; readonly identifier: string }
  /** `/sys/{pk}/{dn}/thing/service/property/set`: cloud sets properties. */
  | { readonly kind: 'property-set' }
  /** `/sys/{pk}/{dn}/thing/service/{identifier}`: cloud calls a service. */
  | { readonly kind: 'service-call'; readonly identifier: string };

/** What {@link AlinkTopics.parse} recognises. */
export type AlinkTopic =
  | AlinkRequestTopic
  /** The `_reply` topic of a request topic; `to` is the request it answers. */
  | { readonly kind: 'reply'; readonly to: AlinkRequestTopic }
  /** `/sys/{pk}/{dn}/rrpc/request/{messageId}`: a synchronous call from the cloud. */
  | { readonly kind: 'rrpc-request'; readonly messageId: string }
  /** `/sys/{pk}/{dn}/rrpc/response/{messageId}`: the device's answer to it. */
  | { readonly kind: 'rrpc-response'; readonly messageId: string }
  /** `/{pk}/{dn}/user/{path}`: a custom topic. */
  | { readonly kind: 'user'; readonly path: string };

const REPLY = '_reply';

/**
 * The topics of one device. Builders check their argument (non-empty, no `/`, `+` or `#`, except
 * that a user topic path may hold `/`; a service must not end in `_reply`, and an event must not
 * be called `property`) and throw a ConfigurationError naming it, so that every topic built
 * parses back to what built it.
 *
 * @example
 * const topics = new AlinkTopics({ productKey: 'pk', deviceName: 'dev' });
 * topics.propertyPost(); // '/sys/pk/dev/thing/event/property/post'
 * topics.parse('/sys/pk/dev/thing/service/reboot'); // { kind: 'service-call', identifier: 'reboot' }
 */
export class AlinkTopics {
  readonly productKey: string;
  readonly deviceName: string;
  readonly #sys: string;
  readonly #user: string;

  /** @throws ConfigurationError for an empty productKey or deviceName, or one holding `/`, `+` or `#`. */
  constructor(device: { readonly productKey: string; readonly deviceName: string }) {
    this.productKey = segment('productKey', device.productKey);
    this.deviceName = segment('deviceName', device.deviceName);
    this.#sys = `/sys/${this.productKey}/${this.deviceName}/`;
    this.#user = `/${this.productKey}/${this.deviceName}/user/`;
  }

  /** `/sys/{pk}/{dn}/thing/event/property/post` */
  propertyPost(): string {
    return this.request({ kind: 'property-post' });
  }

  /** `/sys/{pk}/{dn}/thing/event/property/post_reply` */
  propertyPostReply(): string {
    return this.reply({ kind: 'property-post' });
  }

  /** `/sys/{pk}/{dn}/thing/event/{identifier}/post` */
  eventPost(identifier: string): string {
    return this.request({ kind: 'event-post', identifier });
  }

  /** `/sys/{pk}/{dn}/thing/event/{identifier}/post_reply` */
  eventPostReply(identifier: string): string {
    return this.reply({ kind: 'event-post', identifier });
  }

  /** `/sys/{pk}/{dn}/thing/service/property/set` */
  propertySet(): string {
    return this.request({ kind: 'property-set' });
  }

  /** `/sys/{pk}/{dn}/thing/service/property/set_reply` */
  propertySetReply(): string {
    return this.reply({ kind: 'property-set' });
  }

  /** `/sys/{pk}/{dn}/thing/service/{identifier}` */
  serviceCall(identifier: string): string {
    return this.request({ kind: 'service-call', identifier });
  }

  /** `/sys/{pk}/{dn}/thing/service/{identifier}_reply` */
  serviceCallReply(identifier: string): string {
    return this.reply({ kind: 'service-call', identifier });
  }

  /** `/sys/{pk}/{dn}/rrpc/request/{messageId}` */
  rrpcRequest(messageId: string): string {
    return `${this.#sys}rrpc/request/${segment('messageId', messageId)}`;
  }

  /** `/sys/{pk}/{dn}/rrpc/response/{messageId}`: where to answer an RRPC request. */
  rrpcResponse(messageId: string): string {
    return `${this.#sys}rrpc/response/${segment('messageId', messageId)}`;
  }

  /** `/{pk}/{dn}/user/{path}`; `path` may have several levels (`a/b`) but no wildcard. */
  user(path: string): string {
    const text = requireText('path', path, "give the part after '/user/', e.g. 'update'");
    forbidCharacters('path', text, ['+', '#'], 'wildcards cannot be published to');
    if (text.startsWith('/') || text.split('/').includes('')) {
      throw new ConfigurationError('path', `${JSON.stringify(text)} has an empty level; drop the extra '/'`);
    }
    return this.#user + text;
  }

  /** `/sys/{pk}/{dn}/thing/service/#`: property set and every service call, with one subscription. */
  serviceFilter(): string {
    return `${this.#sys}thing/service/#`;
  }

  /** `/sys/{pk}/{dn}/thing/event/+/post_reply`: the replies to property and event posts. */
  postReplyFilter(): string {
    return `${this.#sys}thing/event/+/post${REPLY}`;
  }

  /** `/sys/{pk}/{dn}/rrpc/request/+`: every RRPC request. */
  rrpcRequestFilter(): string {
    return `${this.#sys}rrpc/request/+`;
  }

  /** The topic of a request. */
  request(topic: AlinkRequestTopic): string {
    switch (topic.kind) {
      case 'property-post':
        return `${this.#sys}thing/event/property/post`;
      case 'event-post':
        return `${this.#sys}thing/event/${identifier('event-post', topic.identifier)}/post`;
      case 'property-set':
        return `${this.#sys}thing/service/property/set`;
      case 'service-call':
        return `${this.#sys}thing/service/${identifier('service-call', topic.identifier)}`;
    }
  }

  /** The `_reply` topic of a request. */
  reply(topic: AlinkRequestTopic): string {
    return this.request(topic) + REPLY;
  }

  /**
   * What `topic` is for this device, or `undefined` when it is not one of this device's Alink or
   * user topics. A `..._reply` topic comes back as `{ kind: 'reply', to }`.
   */
  parse(topic: string): AlinkTopic | undefined {
    if (topic.startsWith(this.#user)) {
      const path = topic.slice(this.#user.length);
      return path === '' ? undefined : { kind: 'user', path };
    }
    if (!topic.startsWith(this.#sys)) return undefined;
    const levels = topic.slice(this.#sys.length).split('/');
    if (levels.includes('')) return undefined;
    const [area, group, name, action, ...rest] = levels;
    if (rest.length > 0 || name === undefined) return undefined;
    if (area === 'rrpc' && action === undefined) {
      if (group === 'request') return { kind: 'rrpc-request', messageId: name };
      if (group === 'response') return { kind: 'rrpc-response', messageId: name };
      return undefined;
    }
    if (area !== 'thing') return undefined;
    if (group === 'event' && (action === 'post' || action === `post${REPLY}`)) {
      const request: AlinkRequestTopic =
        name === 'property' ? { kind: 'property-post' } : { kind: 'event-post', identifier: name };
      return action === 'post' ? request : { kind: 'reply', to: request };
    }
    if (group === 'service' && name === 'property' && action !== undefined) {
      if (action === 'set') return { kind: 'property-set' };
      if (action === `set${REPLY}`) return { kind: 'reply', to: { kind: 'property-set' } };
      return undefined;
    }
    if (group === 'service' && action === undefined) {
      if (name.endsWith(REPLY)) {
        const to = name.slice(0, -REPLY.length);
        return to === '' ? undefined : { kind: 'reply', to: { kind: 'service-call', identifier: to } };
      }
      return { kind: 'service-call', identifier: name };
    }
    return undefined;
  }
}

/**
 * An event or service identifier that reads back as itself: an event must not be called
 * `property` (that topic is the property post), a service must not end in `_reply` (that topic is
 * a reply).
 */
function identifier(kind: 'event-post' | 'service-call', value: unknown): string {
  const text = segment('identifier', value);
  if (kind === 'event-post' ? text === 'property' : text.endsWith(REPLY)) {
    const taken = kind === 'event-post' ? "the event name 'property'" : `a service name ending in '${REPLY}'`;
    throw new ConfigurationError('identifier', `${JSON.stringify(text)}: ${taken} names another topic; rename it in the thing model`);
  }
  return text;
}

/** `value` as one topic level: non-empty, no `/`, `+` or `#`. */
function segment(field: string, value: unknown): string {
  const text = requireText(field, value, 'give the name exactly as the console shows it');
  forbidCharacters(field, text, ['/', '+', '#'], 'it must be a single topic level without wildcards');
  return text;
}
