/*
 * The topics of the platform's device services beyond the thing model: gateway topology and
 * sub-device sessions, batch posts, NTP, device shadow, remote configuration, tags, OTA, and the
 * session error notice. Built for one device, and parsed back for any device (the stand-in sees
 * many).
 *
 * Sources, per group:
 * - topology, sub-device registration: help.aliyun.com/document_detail/89299; C Link SDK 4.x
 *   `components/subdev/aiot_subdev_api.c`; Node.js SDK 1.2.8 `lib/const.js`.
 * - sessions: help.aliyun.com/document_detail/89300; the C SDK and Python linkkit use the batch
 *   forms `combine/batch_login`, `combine/batch_logout`.
 * - disable, enable, delete: iotkit-embedded 3.x `src/dev_model/dm_message.c` (`thing/disable`,
 *   `thing/enable`, `thing/delete`, answered on `_reply`).
 * - session errors: iotkit-embedded 3.x `src/dev_model/iotx_dm_internal.h` `/ext/error/%s/%s`,
 *   handled in `dm_message.c` `dm_msg_ext_error_reply` (code 520: log the sub-device in again).
 * - batch posts: help.aliyun.com/document_detail/89301 (`thing/event/property/pack/post`,
 *   `thing/event/property/history/post`).
 * - NTP: C Link SDK 4.x `components/ntp/ntp_private.h` (`/ext/ntp/%s/%s/request`, `/response`).
 * - shadow: C Link SDK 4.x `components/shadow/shadow_private.h` (`/shadow/update/%s/%s`,
 *   `/shadow/get/%s/%s`); help.aliyun.com "Device shadow data stream".
 * - remote configuration: Node.js SDK 1.2.8 `lib/const.js` (`thing/config/get`, `thing/config/push`).
 * - tags: help.aliyun.com/document_detail/89304 (`thing/deviceinfo/update`, `/delete`).
 * - OTA: help.aliyun.com/document_detail/89307; C Link SDK 4.x `components/ota/ota_private.h`.
 */
import { ConfigurationError } from '../shared/errors.js';
import type { DeviceIdentity } from './wire/identity.js';
import { checkIdentity } from './wire/identity.js';

/** Every service topic this module knows. */
export type ServiceTopicKind =
  | 'topo-add'
  | 'topo-get'
  | 'topo-delete'
  | 'topo-change'
  | 'sub-register'
  | 'login'
  | 'batch-login'
  | 'logout'
  | 'batch-logout'
  | 'thing-disable'
  | 'thing-enable'
  | 'thing-delete'
  | 'pack-post'
  | 'history-post'
  | 'ntp-request'
  | 'ntp-response'
  | 'shadow-update'
  | 'shadow-get'
  | 'config-get'
  | 'config-push'
  | 'tags-update'
  | 'tags-delete'
  | 'ota-inform'
  | 'ota-upgrade'
  | 'ota-progress'
  | 'ota-firmware-get'
  | 'session-error';

/** Where a kind's topic lives: which prefix, the rest of its path, and whether it has a `_reply`. */
type Form = 'sys' | 'session' | 'ntp' | 'shadow' | 'ota' | 'error';
interface Shape {
  readonly form: Form;
  readonly path: string;
  readonly reply: boolean;
}

const SHAPES: Readonly<Record<ServiceTopicKind, Shape>> = {
  'topo-add': { form: 'sys', path: 'thing/topo/add', reply: true },
  'topo-get': { form: 'sys', path: 'thing/topo/get', reply: true },
  'topo-delete': { form: 'sys', path: 'thing/topo/delete', reply: true },
  'topo-change': { form: 'sys', path: 'thing/topo/change', reply: true },
  'sub-register': { form: 'sys', path: 'thing/sub/register', reply: true },
  login: { form: 'session', path: 'combine/login', reply: true },
  'batch-login': { form: 'session', path: 'combine/batch_login', reply: true },
  logout: { form: 'session', path: 'combine/logout', reply: true },
  'batch-logout': { form: 'session', path: 'combine/batch_logout', reply: true },
  'thing-disable': { form: 'sys', path: 'thing/disable', reply: true },
  'thing-enable': { form: 'sys', path: 'thing/enable', reply: true },
  'thing-delete': { form: 'sys', path: 'thing/delete', reply: true },
  'pack-post': { form: 'sys', path: 'thing/event/property/pack/post', reply: true },
  'history-post': { form: 'sys', path: 'thing/event/property/history/post', reply: true },
  'ntp-request': { form: 'ntp', path: 'request', reply: false },
  'ntp-response': { form: 'ntp', path: 'response', reply: false },
  'shadow-update': { form: 'shadow', path: 'update', reply: false },
  'shadow-get': { form: 'shadow', path: 'get', reply: false },
  'config-get': { form: 'sys', path: 'thing/config/get', reply: true },
  'config-push': { form: 'sys', path: 'thing/config/push', reply: true },
  'tags-update': { form: 'sys', path: 'thing/deviceinfo/update', reply: true },
  'tags-delete': { form: 'sys', path: 'thing/deviceinfo/delete', reply: true },
  'ota-inform': { form: 'ota', path: 'inform', reply: false },
  'ota-upgrade': { form: 'ota', path: 'upgrade', reply: false },
  'ota-progress': { form: 'ota', path: 'progress', reply: false },
  'ota-firmware-get': { form: 'sys', path: 'thing/ota/firmware/get', reply: true },
  'session-error': { form: 'error', path: '', reply: false },
};

/** Where the platform answers an MQTT registration with the DeviceSecret (`authType=register`). */
export const REGISTER_TOPIC = '/ext/register';
/** Where the platform answers an MQTT registration without pre-registration (`authType=regnwl`). */
export const REGNWL_TOPIC = '/ext/regnwl';

const REPLY = '_reply';

/**
 * The topic of `kind` for `device` (for the session, topology, pack and history topics: the
 * gateway), or its `_reply` topic with `{ reply: true }`.
 *
 * @example serviceTopic('batch-login', { productKey: 'gwPk', deviceName: 'gw1' })
 *   // '/ext/session/gwPk/gw1/combine/batch_login'
 * @throws ConfigurationError (`reply`) for a kind without a reply topic, or naming the identity
 *   field that cannot be a topic level.
 */
export function serviceTopic(kind: ServiceTopicKind, device: DeviceIdentity, options: { readonly reply?: boolean } = {}): string {
  const shape = SHAPES[kind];
  if (shape === undefined) throw new ConfigurationError('kind', `${JSON.stringify(kind)} is not a service topic`);
  const { productKey: pk, deviceName: dn } = checkIdentity(device, 'device');
  if (options.reply === true && !shape.reply) {
    throw new ConfigurationError('reply', `${kind} has no _reply topic; its answer comes on another topic`);
  }
  const suffix = options.reply === true ? REPLY : '';
  switch (shape.form) {
    case 'sys':
      return `/sys/${pk}/${dn}/${shape.path}${suffix}`;
    case 'session':
      return `/ext/session/${pk}/${dn}/${shape.path}${suffix}`;
    case 'ntp':
      return `/ext/ntp/${pk}/${dn}/${shape.path}`;
    case 'shadow':
      return `/shadow/${shape.path}/${pk}/${dn}`;
    case 'ota':
      return `/ota/device/${shape.path}/${pk}/${dn}`;
    case 'error':
      return `/ext/error/${pk}/${dn}`;
  }
}

/** What {@link parseServiceTopic} tells about a topic. */
export interface ParsedServiceTopic extends DeviceIdentity {
  readonly kind: ServiceTopicKind;
  /** `true` for the `_reply` topic of `kind`. */
  readonly reply: boolean;
}

const BY_FORM_AND_PATH = new Map<string, ServiceTopicKind>(
  (Object.entries(SHAPES) as [ServiceTopicKind, Shape][]).map(([kind, shape]) => [`${shape.form}:${shape.path}`, kind]),
);

/**
 * Which service topic `topic` is, for which device, or `undefined` for any other topic (thing
 * model and user topics included: `AlinkTopics` reads those).
 */
export function parseServiceTopic(topic: string): ParsedServiceTopic | undefined {
  const levels = topic.split('/');
  if (levels[0] !== '' || levels.slice(1).includes('')) return undefined;
  const [, first, second, third, fourth, fifth, ...rest] = levels;
  if (first === 'sys' && second !== undefined && third !== undefined) {
    return fromPath('sys', second, third, levels.slice(4).join('/'));
  }
  if (first === 'ext' && second === 'session' && third !== undefined && fourth !== undefined) {
    return fromPath('session', third, fourth, levels.slice(5).join('/'));
  }
  if (first === 'ext' && second === 'ntp' && third !== undefined && fourth !== undefined && fifth !== undefined && rest.length === 0) {
    return exact('ntp', fifth, third, fourth);
  }
  if (first === 'ext' && second === 'error' && third !== undefined && fourth !== undefined && fifth === undefined) {
    return exact('error', '', third, fourth);
  }
  if (first === 'shadow' && second !== undefined && third !== undefined && fourth !== undefined && fifth === undefined) {
    return exact('shadow', second, third, fourth);
  }
  if (first === 'ota' && second === 'device' && third !== undefined && fourth !== undefined && fifth !== undefined && rest.length === 0) {
    return exact('ota', third, fourth, fifth);
  }
  return undefined;
}

function fromPath(form: Form, productKey: string, deviceName: string, path: string): ParsedServiceTopic | undefined {
  const direct = BY_FORM_AND_PATH.get(`${form}:${path}`);
  if (direct !== undefined) return { kind: direct, reply: false, productKey, deviceName };
  if (!path.endsWith(REPLY)) return undefined;
  const kind = BY_FORM_AND_PATH.get(`${form}:${path.slice(0, -REPLY.length)}`);
  return kind !== undefined && SHAPES[kind].reply ? { kind, reply: true, productKey, deviceName } : undefined;
}

function exact(form: Form, path: string, productKey: string, deviceName: string): ParsedServiceTopic | undefined {
  const kind = BY_FORM_AND_PATH.get(`${form}:${path}`);
  return kind === undefined ? undefined : { kind, reply: false, productKey, deviceName };
}

/**
 * The `method` of each service request that carries one. The session topics (login, logout and
 * their batch forms) and the OTA inform and progress topics carry none: the platform's pages
 * show none and the C SDK sends none.
 */
export const SERVICE_METHODS = Object.freeze({
  topoAdd: 'thing.topo.add',
  topoGet: 'thing.topo.get',
  topoDelete: 'thing.topo.delete',
  topoChange: 'thing.topo.change',
  subRegister: 'thing.sub.register',
  thingDisable: 'thing.disable',
  thingEnable: 'thing.enable',
  thingDelete: 'thing.delete',
  packPost: 'thing.event.property.pack.post',
  historyPost: 'thing.event.property.history.post',
  configGet: 'thing.config.get',
  configPush: 'thing.config.push',
  tagsUpdate: 'thing.deviceinfo.update',
  tagsDelete: 'thing.deviceinfo.delete',
  otaFirmwareGet: 'thing.ota.firmware.get',
});
