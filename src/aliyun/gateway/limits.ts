/*
 * The platform's limits on a gateway and its sub-devices, checked before anything is sent.
 *
 * Sources: help.aliyun.com/document_detail/89300 (sub-device online and offline: 2,000 online
 * sub-devices per gateway, 50 per batch login or logout, QoS 0 only); the "Manage topology
 * relationships" page, help.aliyun.com/en/iot/user-guide/manage-topological-relationships
 * (30 sub-devices per topology add); document_detail/89301 "网关批量上报数据" (a packed post
 * holds at most 200 properties, 20 events and 20 sub-devices).
 */
import { ConfigurationError } from '../../shared/errors.js';
import { requireIntegerIn } from '../../shared/validate.js';

/** The gateway limits, as numbers. */
export const GATEWAY_LIMITS = Object.freeze({
  /** Sub-devices one `thing.topo.add` may carry. */
  maxTopoAdd: 30,
  /** Sub-devices one batch login, or one batch logout, may carry. */
  maxBatchLogin: 50,
  /**
   * Sub-devices online at once under one gateway; further logins are refused. The platform's
   * current page says 2,000 (an older copy of it says 1,000).
   */
  maxOnlineSubDevices: 2000,
  /** Properties in one packed post, the gateway's and its sub-devices' together. */
  maxPackProperties: 200,
  /** Events in one packed post, all devices together. */
  maxPackEvents: 20,
  /** Sub-devices in one packed post. */
  maxPackSubDevices: 20,
  /** The session topics (login, logout and their batch forms) take QoS 0 only. */
  sessionQos: 0 as const,
});

/**
 * Checks that `adding` more sub-devices fit beside the `online` ones already logged in.
 *
 * @throws ConfigurationError (`subDevices`) when the gateway would exceed 2,000 online
 *   sub-devices, or for counts that are not non-negative integers.
 */
export function checkOnlineCapacity(online: number, adding: number): void {
  const max = GATEWAY_LIMITS.maxOnlineSubDevices;
  requireIntegerIn('online', online, 0, Number.MAX_SAFE_INTEGER, 'give the number of sub-devices logged in now');
  requireIntegerIn('adding', adding, 0, Number.MAX_SAFE_INTEGER, 'give the number of sub-devices to log in');
  if (online + adding > max) {
    throw new ConfigurationError(
      'subDevices',
      `${online} online plus ${adding} more is ${online + adding}; the platform keeps at most ${max} sub-devices ` +
        'online per gateway and refuses further logins: log some out first, or spread them over more gateways',
    );
  }
}

/**
 * `items` cut into consecutive batches of at most `size` (default 50, the batch login limit),
 * in order. An empty list gives no batches.
 *
 * @throws ConfigurationError (`size`) for a size outside 1..50.
 */
export function inBatches<T>(items: readonly T[], size: number = GATEWAY_LIMITS.maxBatchLogin): T[][] {
  requireIntegerIn('size', size, 1, GATEWAY_LIMITS.maxBatchLogin, `the platform takes 1..${GATEWAY_LIMITS.maxBatchLogin} sub-devices per batch`);
  const batches: T[][] = [];
  for (let start = 0; start < items.length; start += size) batches.push(items.slice(start, start + size));
  return batches;
}
