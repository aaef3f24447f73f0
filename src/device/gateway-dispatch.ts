/**
 * What the cloud sends a gateway, dispatched: its sub-devices' messages (post replies, property
 * sets, service calls, RRPC, the older lifecycle notices) to their handles, the replies to the
 * gateway's requests, and the notices about sub-devices (`thing.topo.change`, `/ext/error`),
 * which the sub-devices concerned follow. Nothing a message holds escapes into the client.
 */
import { ALINK_METHODS, buildAlinkReply } from '../aliyun/alink/payload.js';
import { readRequestId } from '../aliyun/alink/request-id.js';
import { parseLifecycleNotice, parseSessionError } from '../aliyun/gateway/session.js';
import { parseTopoChange } from '../aliyun/gateway/topology.js';
import { serviceTopic } from '../aliyun/service-topics.js';
import { PlatformPayloadError } from '../aliyun/wire/errors.js';
import { identityKey } from '../aliyun/wire/identity.js';
import type { DeviceIdentity } from '../aliyun/wire/identity.js';
import { answerRequest, answerRrpc } from './alink-answer.js';
import { ALINK_REPLY_CODES } from './errors.js';
import { GATEWAY_REPLY_CODES } from './gateway-codes.js';
import { GatewayError } from './gateway-errors.js';
import type { GatewayContext } from './gateway-options.js';
import type { GatewayRequests } from './gateway-requests.js';
import type { SubDeviceSessions } from './gateway-sessions.js';
import { readSubDeviceTopic } from './gateway-topics.js';
import type { SubDeviceNoticeKind } from './gateway-types.js';
import type { SubDeviceHandle } from './sub-device.js';

const EVENT = 'thing/event/';
const POST_REPLY = '/post_reply';

/** @internal */
export class GatewayDispatch {
  readonly #gateway: GatewayContext;
  readonly #requests: GatewayRequests;
  readonly #sessions: SubDeviceSessions;
  readonly #topoChangeTopic: string;
  readonly #errorTopic: string;

  constructor(gateway: GatewayContext, requests: GatewayRequests, sessions: SubDeviceSessions) {
    this.#gateway = gateway;
    this.#requests = requests;
    this.#sessions = sessions;
    this.#topoChangeTopic = serviceTopic('topo-change', gateway);
    this.#errorTopic = serviceTopic('session-error', gateway);
  }

  received(topic: string, payload: Uint8Array): void {
    if (this.#gateway.ending) return;
    try {
      this.#dispatch(topic, payload);
    } catch (error) {
      // Nothing a message holds may escape into the client's socket handler.
      this.#gateway.report(error instanceof Error ? error : new Error(String(error)));
    }
  }

  #dispatch(topic: string, payload: Uint8Array): void {
    // Sub-devices' messages first: with many sub-devices they are nearly all the traffic.
    if (topic.startsWith('/sys/')) {
      const productEnd = topic.indexOf('/', 5);
      const nameEnd = productEnd < 0 ? -1 : topic.indexOf('/', productEnd + 1);
      // A sub-device not logged in through this gateway is not its business; the gateway's own topics are its Device's.
      const subDevice = nameEnd < 0 ? undefined : this.#sessions.get(topic.slice(5, nameEnd));
      if (subDevice !== undefined) {
        this.#subDeviceMessage(subDevice, topic, nameEnd + 1, payload);
        return;
      }
    }
    const kind = this.#requests.replyKind(topic);
    if (kind !== undefined) {
      this.#requests.replyArrived(kind, topic, payload);
    } else if (topic === this.#topoChangeTopic) {
      this.#topologyChanged(topic, payload);
    } else if (topic === this.#errorTopic) {
      this.#sessionError(payload);
    }
  }

  /** A message on `topic`, whose part after `/sys/{pk}/{dn}/` starts at `at`. */
  #subDeviceMessage(subDevice: SubDeviceHandle, topic: string, at: number, payload: Uint8Array): void {
    // The post reply, `thing/event/{identifier}/post_reply`, without splitting the topic.
    const identifierEnd = topic.length - POST_REPLY.length;
    if (topic.endsWith(POST_REPLY) && topic.startsWith(EVENT, at) && identifierEnd > at + EVENT.length && topic.indexOf('/', at + EVENT.length) === identifierEnd) {
      this.#requests.postReplyArrived(topic, payload);
      return;
    }
    const rest = readSubDeviceTopic(topic.slice(at));
    switch (rest?.kind) {
      case 'post-reply':
        this.#requests.postReplyArrived(topic, payload);
        return;
      case 'property-set':
        answerRequest(subDevice, topic, payload, `${topic}_reply`, subDevice.handler(ALINK_METHODS.propertySet));
        return;
      case 'service-call':
        answerRequest(subDevice, topic, payload, `${topic}_reply`, subDevice.handler(ALINK_METHODS.serviceCall(rest.identifier)));
        return;
      case 'rrpc-request':
        answerRrpc(subDevice, rest.messageId, payload, `${subDevice.sys}rrpc/response/${rest.messageId}`, (method) => subDevice.handler(method), subDevice.rrpcHandler());
        return;
      case 'lifecycle':
        this.#lifecycleNotice(subDevice, topic, payload);
        return;
      default:
        // The echoes of the sub-device's own answers are nobody's.
        return;
    }
  }

  /** `thing.topo.change`: answered 200, reported, and the sub-devices concerned follow it. */
  #topologyChanged(topic: string, payload: Uint8Array): void {
    let change: ReturnType<typeof parseTopoChange>;
    try {
      change = parseTopoChange(payload);
    } catch (error) {
      if (!(error instanceof PlatformPayloadError)) throw error;
      this.#unreadableNotice(topic, payload, error);
      return;
    }
    this.#answer(topic, buildAlinkReply({ id: change.id }));
    const kind: SubDeviceNoticeKind = { created: 'topology-added', deleted: 'topology-removed', enabled: 'enabled', disabled: 'disabled' }[change.status] as SubDeviceNoticeKind;
    for (const device of change.subDevices) this.#notice(device, kind, undefined, undefined);
    this.#gateway.emit('topology', { status: change.status, subDevices: change.subDevices });
  }

  /** A notice on `/ext/error/{gateway}` about one sub-device. */
  #sessionError(payload: Uint8Array): void {
    let notice: ReturnType<typeof parseSessionError>;
    try {
      notice = parseSessionError(payload);
    } catch (error) {
      if (!(error instanceof PlatformPayloadError)) throw error;
      this.#gateway.report(new GatewayError('malformed-reply', `the notice on ${this.#errorTopic} cannot be read: ${error.message}`, { cause: error }));
      return;
    }
    const codes = GATEWAY_REPLY_CODES;
    const kinds: Readonly<Record<number, SubDeviceNoticeKind>> = {
      [codes.noSession]: 'no-session',
      [codes.connectedElsewhere]: 'kicked',
      [codes.deviceDeleted]: 'deleted',
      [codes.deviceForbidden]: 'disabled',
      [codes.topologyNotFound]: 'topology-removed',
    };
    if (notice.code === codes.noSession) {
      // The message it names was not taken: its post fails now rather than at its timeout.
      const what = `the platform answered id ${notice.id} of ${identityKey(notice.subDevice)} with ${notice.code} (${notice.message ?? 'no session'}): it had no session, so the message was not taken; the gateway logs it in again, send once it is online`;
      this.#requests.posts.reject(notice.id, new GatewayError('no-session', what));
    }
    this.#notice(notice.subDevice, kinds[notice.code] ?? 'other', notice.code, notice.message);
  }

  /** `thing.disable`, `thing.enable`, `thing.delete` on a sub-device's topic (iotkit-embedded 3.x): answered 200, then followed. */
  #lifecycleNotice(subDevice: SubDeviceHandle, topic: string, payload: Uint8Array): void {
    let notice: ReturnType<typeof parseLifecycleNotice>;
    try {
      notice = parseLifecycleNotice(payload);
    } catch (error) {
      if (!(error instanceof PlatformPayloadError)) throw error;
      this.#unreadableNotice(topic, payload, error);
      return;
    }
    this.#answer(topic, buildAlinkReply({ id: notice.id }));
    const kind = ({ disable: 'disabled', enable: 'enabled', delete: 'deleted' } as const)[notice.action];
    this.#notice(subDevice, kind, undefined, undefined);
  }

  /** An unreadable notice is reported, and answered 460 when its id can be read. */
  #unreadableNotice(topic: string, payload: Uint8Array, error: Error): void {
    const id = readRequestId(payload);
    this.#gateway.report(new GatewayError('malformed-reply', `the notice on ${topic} cannot be read (${error.message})${id === undefined ? '' : `; answered ${ALINK_REPLY_CODES.requestParameterError}`}`, { cause: error }));
    if (id === undefined) return;
    this.#answer(topic, buildAlinkReply({ id, code: ALINK_REPLY_CODES.requestParameterError, message: `request parameter error: ${error.message}` }));
  }

  /** Answers a notice on its `_reply` topic, at QoS 0; a failure is reported unless the gateway has ended. */
  #answer(topic: string, reply: string): void {
    void this.#gateway.client.publish(`${topic}_reply`, reply, { qos: 0 }).catch((error: Error) => {
      if (!this.#gateway.ending) this.#gateway.report(new GatewayError('gateway-ended', `could not answer the notice on ${topic}: ${error.message}`, { cause: error }));
    });
  }

  /** Follows a notice: the sub-device goes offline, or comes back, as it says; then it is announced. */
  #notice(device: DeviceIdentity, kind: SubDeviceNoticeKind, code: number | undefined, message: string | undefined): void {
    const sessions = this.#sessions;
    const subDevice = sessions.get(identityKey(device));
    switch (kind) {
      case 'no-session':
        if (subDevice?.state === 'online') sessions.returnLater(subDevice, 'no-session');
        break;
      case 'enabled':
        if (subDevice?.state === 'offline' && subDevice.reason === 'disabled') sessions.returnLater(subDevice, 'disabled');
        break;
      case 'kicked':
      case 'disabled':
      case 'deleted':
      case 'topology-removed':
        sessions.goOffline(subDevice, kind);
        break;
      default:
        break;
    }
    this.#gateway.emit('notice', { productKey: device.productKey, deviceName: device.deviceName, kind, code, message });
  }
}
