/**
 * The subscriptions the server should hold for this client, so that a session the server lost
 * (Session Present 0) gets them back on the next connection, and the SUBSCRIBE/UNSUBSCRIBE
 * calls that change them.
 */
import type { QoS, SubackPacket, Subscription } from '../packet/types.js';
import { MqttClientError, SubscribeError } from './errors.js';
import type { SubscriptionGrant } from './errors.js';
import type { Outbox } from './outbox.js';

export class Subscriptions {
  /** Filters and QoS the server should hold for us. */
  readonly #granted = new Map<string, QoS>();

  constructor(
    private readonly outbox: Outbox,
    /** Hears what no caller waits for (a refused filter when restoring). */
    private readonly owner: { report(error: Error): void },
  ) {}

  async subscribe(list: Subscription[]): Promise<SubscriptionGrant[]> {
    const ack = (await this.outbox.request({ type: 'subscribe', packetId: 1, subscriptions: list })) as SubackPacket;
    const grants = list.map((s, i): SubscriptionGrant => {
      const code = ack.returnCodes[i]!;
      return { topicFilter: s.topicFilter, qos: code === 0x80 ? null : code };
    });
    for (let i = 0; i < list.length; i++) {
      if (grants[i]!.qos !== null) this.#granted.set(list[i]!.topicFilter, list[i]!.qos);
    }
    if (grants.some((g) => g.qos === null)) throw new SubscribeError(grants);
    return grants;
  }

  async unsubscribe(topicFilters: string[]): Promise<void> {
    await this.outbox.request({ type: 'unsubscribe', packetId: 1, topicFilters });
    for (const f of topicFilters) this.#granted.delete(f);
  }

  /** Restores every granted filter not already being subscribed again (after Session Present 0). */
  restore(): void {
    const pending = this.outbox.pendingFilters();
    const restore: Subscription[] = [];
    for (const [topicFilter, qos] of this.#granted) if (!pending.has(topicFilter)) restore.push({ topicFilter, qos });
    if (restore.length === 0) return;
    this.outbox.request({ type: 'subscribe', packetId: 1, subscriptions: restore }).then(
      (ack) => {
        const codes = (ack as SubackPacket).returnCodes;
        const grants = restore.map((s, i) => ({ topicFilter: s.topicFilter, qos: codes[i] === 0x80 ? null : (codes[i] ?? null) }));
        if (grants.some((g) => g.qos === null)) this.owner.report(new SubscribeError(grants));
      },
      (error: Error) => {
        if (!(error instanceof MqttClientError && error.code === 'client-ended')) this.owner.report(error);
      },
    );
  }
}
