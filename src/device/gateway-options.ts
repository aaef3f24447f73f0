/**
 * The gateway's settings, the checks its methods share, and what every part of a gateway is
 * given (`GatewayContext`): its connection, who it is, its settings, whether it has ended, and
 * where its events and problems go. The parts: gateway-requests.ts (requests and replies),
 * gateway-subscriptions.ts, gateway-sessions.ts (logins), gateway-posts.ts (posts and
 * sub-devices' messages), gateway-topology.ts, gateway-dispatch.ts (what the cloud sends);
 * gateway.ts puts them together.
 */
import type { MqttClient } from '../client/client.js';
import { ConfigurationError } from '../shared/errors.js';
import { describeValue, requireIntegerIn, requireOneOf } from '../shared/validate.js';
import { SIGN_METHODS } from '../sign/types.js';
import type { SignMethod } from '../sign/types.js';
import { DEFAULT_REPLY_TIMEOUT } from './device-options.js';
import type { GatewaySubscriptions } from './gateway-topics.js';
import type { GatewayEvents, GatewayOptions } from './gateway-types.js';

/** The longest delay timers take; anything larger would fire at once. */
const MAX_TIMEOUT = 2_147_483_647;

/** @internal The gateway's options, checked and with their defaults. */
export interface GatewaySettings {
  readonly replyTimeout: number;
  readonly subscriptions: GatewaySubscriptions;
  readonly signMethod: SignMethod;
  readonly relogin: boolean;
  readonly cleanSession: boolean;
}

/** @internal What every part of a gateway shares. */
export interface GatewayContext {
  readonly client: MqttClient;
  readonly productKey: string;
  readonly deviceName: string;
  readonly settings: GatewaySettings;
  /** The gateway has ended: nothing more is sent or handled. */
  readonly ending: boolean;
  emit<K extends keyof GatewayEvents>(event: K, ...args: GatewayEvents[K]): boolean;
  /** Something the gateway handled on its own went wrong: the `error` event, and the debug log. */
  report(error: Error): void;
}

/** @internal */
export function resolveGatewayOptions(options: GatewayOptions): GatewaySettings {
  if (typeof options !== 'object' || options === null) {
    throw new ConfigurationError('options', `got ${describeValue(options)}; give { replyTimeout, subscriptions, signMethod, relogin, cleanSession } or leave it out`);
  }
  const known = new Set(['replyTimeout', 'subscriptions', 'signMethod', 'relogin', 'cleanSession']);
  for (const name of Object.keys(options)) {
    if (!known.has(name)) throw new ConfigurationError(name, `is not a gateway option; use ${[...known].join(', ')}`, 'unknown-option');
  }
  return {
    replyTimeout: checkTimeout('replyTimeout', options.replyTimeout ?? DEFAULT_REPLY_TIMEOUT),
    subscriptions: requireOneOf('subscriptions', options.subscriptions ?? 'wildcard', ['wildcard', 'per-product'] as const),
    signMethod: requireOneOf('signMethod', options.signMethod ?? 'hmacsha256', SIGN_METHODS),
    relogin: checkBoolean('relogin', options.relogin ?? true),
    cleanSession: checkBoolean('cleanSession', options.cleanSession ?? true),
  };
}

/** @internal Builds the message once with a placeholder id, so that bad input throws before anything is sent. */
export function prebuild(build: (id: string) => string): (id: string) => string {
  build('1');
  return build;
}

/** @internal */
export function checkList(field: string, list: unknown): void {
  if (!Array.isArray(list) || list.length === 0) throw new ConfigurationError(field, `got ${describeValue(list)}; give a non-empty array`);
}

/** @internal */
export function checkOptions(options: unknown): void {
  if (typeof options !== 'object' || options === null) throw new ConfigurationError('options', `got ${describeValue(options)}; give { timeout } or leave it out`);
}

/** @internal */
export function checkTimeout(field: string, value: unknown): number {
  return requireIntegerIn(field, value, 1, MAX_TIMEOUT, `give whole milliseconds, 1..${MAX_TIMEOUT}`);
}

/** @internal */
export function checkBoolean(field: string, value: unknown): boolean {
  if (typeof value !== 'boolean') throw new ConfigurationError(field, `got ${describeValue(value)}; use true or false`);
  return value;
}
