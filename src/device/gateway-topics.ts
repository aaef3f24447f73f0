/**
 * The gateway's one shared subscription set, and how an incoming topic of a sub-device reads.
 *
 * What the platform allows a gateway to subscribe to, as the sources say:
 * - A gateway receives its sub-devices' messages on its own connection once they are logged in
 *   (help.aliyun.com/document_detail/89300: sub-devices "use the gateway's channel").
 * - The vendor's Node.js SDK 1.2.8 (`lib/thing.js` `_subscribePresetTopic`) subscribes, after each
 *   sub-device's login, to about 16 exact topics of that sub-device: per sub-device per topic,
 *   what this library avoids.
 * - The vendor's C Link SDK 4.x reads every device's messages through one set of `+/+` filters:
 *   `components/data-model/aiot_dm_api.c` (`g_dm_recv_topic_mapping`: `/sys/+/+/thing/service/+`,
 *   `/sys/+/+/thing/event/+/post_reply`, ...), `components/ota/ota_private.h`
 *   (`/ota/device/upgrade/+/+`, `/sys/+/+/thing/config/push`); it leaves the subscribing itself to
 *   the platform's automatic subscription for its own clients (help.aliyun.com "自动订阅Topic说明").
 * - Custom topic categories may hold `+` and `#` for subscribing (help.aliyun.com/document_detail/85539);
 *   no page says whether the platform grants `+` in the productKey and deviceName levels of the
 *   `/sys/` topics to a gateway.
 *
 * So the gateway offers both shared sets: `'wildcard'` (the default: `/sys/+/+/...`, the C SDK's
 * filters, one SUBSCRIBE at start) and `'per-product'` (`/sys/{productKey}/+/...`, one SUBSCRIBE
 * the first time a sub-device of a product logs in), and a refused filter is reported as
 * GatewayError `subscribe-refused` naming the other choice. Either way the filters are restored by
 * the client after a reconnect, and their number does not grow with the sub-devices.
 */
import type { ServiceTopicKind } from '../aliyun/service-topics.js';
import { serviceTopic } from '../aliyun/service-topics.js';
import type { DeviceIdentity } from '../aliyun/wire/identity.js';

/** How the gateway subscribes to its sub-devices' topics. */
export type GatewaySubscriptions = 'wildcard' | 'per-product';

/** The gateway's own requests that have a `_reply` it waits for. */
export const REQUEST_KINDS = [
  'topo-add',
  'topo-get',
  'topo-delete',
  'sub-register',
  'login',
  'batch-login',
  'logout',
  'batch-logout',
  'pack-post',
  'history-post',
] as const satisfies readonly ServiceTopicKind[];

export type GatewayRequestKind = (typeof REQUEST_KINDS)[number];

/**
 * The filters of every sub-device of product `productKey` (`'+'` for every product): property
 * sets and service calls, post replies, RRPC requests, and the disable, enable and delete notices.
 * They match the gateway's own thing-model topics too, when `productKey` is `'+'`.
 */
export function subDeviceFilters(productKey: string): string[] {
  const sys = `/sys/${productKey}/+/`;
  return [`${sys}thing/service/#`, `${sys}thing/event/+/post_reply`, `${sys}rrpc/request/+`, `${sys}thing/disable`, `${sys}thing/enable`, `${sys}thing/delete`];
}

/** The gateway's own reply topics, its topology change notice and its session error notice. */
export function gatewayFilters(gateway: DeviceIdentity): string[] {
  return [
    ...REQUEST_KINDS.map((kind) => serviceTopic(kind, gateway, { reply: true })),
    serviceTopic('topo-change', gateway),
    serviceTopic('session-error', gateway),
  ];
}

/** What arrived on a sub-device's `/sys/{pk}/{dn}/` topic, read from the rest of the topic. */
export type SubDeviceTopic =
  | { readonly kind: 'post-reply' }
  | { readonly kind: 'property-set' }
  | { readonly kind: 'service-call'; readonly identifier: string }
  | { readonly kind: 'rrpc-request'; readonly messageId: string }
  | { readonly kind: 'lifecycle'; readonly action: 'disable' | 'enable' | 'delete' };

const LIFECYCLE = new Set(['disable', 'enable', 'delete']);

/**
 * Reads `rest`, the part of a topic after `/sys/{pk}/{dn}/`, with the rules of AlinkTopics.parse;
 * `undefined` for anything else (echoes of replies, other areas).
 */
export function readSubDeviceTopic(rest: string): SubDeviceTopic | undefined {
  const levels = rest.split('/');
  if (levels.includes('')) return undefined;
  const [area, group, name, action] = levels;
  if (area === 'rrpc') return levels.length === 3 && group === 'request' ? { kind: 'rrpc-request', messageId: name! } : undefined;
  if (area !== 'thing') return undefined;
  if (levels.length === 2) return LIFECYCLE.has(group!) ? { kind: 'lifecycle', action: group as 'disable' | 'enable' | 'delete' } : undefined;
  if (group === 'event') return levels.length === 4 && action === 'post_reply' ? { kind: 'post-reply' } : undefined;
  if (group !== 'service') return undefined;
  if (levels.length === 4) return name === 'property' && action === 'set' ? { kind: 'property-set' } : undefined;
  return levels.length === 3 && !name!.endsWith('_reply') ? { kind: 'service-call', identifier: name! } : undefined;
}
