/**
 * The gateway's one shared subscription set (see gateway-topics.ts): the gateway's own reply and
 * notice filters and, in `wildcard` mode, every sub-device's at start; in `per-product` mode, a
 * product's filters the first time one of its sub-devices logs in.
 */
import { checkPlatformSubscribe } from '../aliyun/limits.js';
import { SubscribeError } from '../client/errors.js';
import { GatewayError } from './gateway-errors.js';
import type { GatewayContext } from './gateway-options.js';
import { gatewayFilters, subDeviceFilters } from './gateway-topics.js';
import type { GatewaySubscriptions } from './gateway-topics.js';

/** @internal */
export class SharedSubscriptions {
  readonly #gateway: GatewayContext;
  readonly mode: GatewaySubscriptions;
  /** Products whose filters are subscribed (`per-product`). */
  readonly #products = new Set<string>();

  constructor(gateway: GatewayContext) {
    this.#gateway = gateway;
    this.mode = gateway.settings.subscriptions;
  }

  /** The filters of the start, in one SUBSCRIBE. */
  start(): Promise<void> {
    const filters = gatewayFilters(this.#gateway);
    if (this.mode === 'wildcard') filters.push(...subDeviceFilters('+'));
    return this.#subscribe(filters);
  }

  /** Subscribes the filters of the products of `subDevices` not subscribed yet (`per-product` only). */
  async forProducts(subDevices: ReadonlyArray<{ readonly productKey: string }>): Promise<void> {
    if (this.mode !== 'per-product') return;
    const products = [...new Set(subDevices.map((subDevice) => subDevice.productKey))].filter((product) => !this.#products.has(product));
    if (products.length === 0) return;
    await this.#subscribe(products.flatMap(subDeviceFilters));
    for (const product of products) this.#products.add(product);
  }

  async #subscribe(filters: readonly string[]): Promise<void> {
    for (const filter of filters) checkPlatformSubscribe(filter, 1);
    try {
      await this.#gateway.client.subscribe(filters, { qos: 1 });
    } catch (error) {
      if (!(error instanceof SubscribeError)) throw error;
      const refused = error.grants.filter((grant) => grant.qos === null).map((grant) => grant.topicFilter);
      const other = this.mode === 'wildcard' ? "subscriptions: 'per-product'" : "subscriptions: 'wildcard'";
      throw new GatewayError('subscribe-refused', `the platform refused ${refused.join(', ')}; try the gateway option ${other}`, { cause: error });
    }
  }
}
