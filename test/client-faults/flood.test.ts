/**
 * A publisher that never stops, against a connection that stops taking bytes: the fault proxy in
 * front of mosquitto's TLS port freezes the connection (it stops reading, so TCP pushes back into
 * the client's socket). An awaited QoS 0 loop must then wait on 'drain' rather than grow the
 * client's memory, and publishes fired without waiting must meet the bounded queue's typed
 * refusal, not pile up. Then the client is ended and every promise must settle.
 */
import { expect, it } from 'vitest';
import { MqttClientError } from '../../src/client/index.js';
import { useFaultProxy } from '../support/fault-proxy.js';
import { describeWithBroker } from '../support/mosquitto.js';
import { brokerOptions, uniqueId, useBroker } from '../client-broker/support.js';

const MESSAGES = 1_000_000;
const QUEUE = 100;
const TOPIC = 'flood/t';
const payload = Buffer.alloc(64, 0x61);

/** Waits for `condition` to hold (something that must happen), failing after `ms`. */
async function eventually(condition: () => boolean, what: string, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`never happened within ${ms} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describeWithBroker('a publish loop against a stalled TLS connection', () => {
  const suite = useBroker();
  const tls = useFaultProxy(() => ({ host: '::1', port: suite.broker.tlsPort }));

  it('1,000,000 awaited QoS 0 publishes wait on drain with bounded memory; the queue refuses with queue-full when full', async () => {
    const client = suite.pool.track(
      brokerOptions(suite.broker, {
        port: tls.proxy.port,
        clientId: uniqueId('flood'),
        keepalive: 600, // the stall must not be noticed during the test
        // Room for QUEUE messages of topic and payload while connected.
        maxQueuedBytes: QUEUE * (TOPIC.length + payload.length),
      }),
    );
    await client.connect();
    tls.proxy.freeze();
    const before = process.memoryUsage();

    let resolved = 0;
    let loopError: unknown;
    const loop = (async () => {
      for (let i = 0; i < MESSAGES; i++) {
        await client.publish(TOPIC, payload);
        resolved++;
      }
    })().catch((error: unknown) => {
      loopError = error;
    });

    // The socket fills (client buffer, kernel buffers, the proxy's unread side), then the loop's
    // publish waits in the queue for a 'drain' that cannot come while the proxy is frozen.
    await eventually(() => client.queuedCount === 1, 'the loop\'s publish waits for the saturated socket', 20_000);
    const stuckAt = resolved;
    expect(stuckAt).toBeGreaterThan(0);
    expect(stuckAt).toBeLessThan(MESSAGES);
    const after = process.memoryUsage();
    // What a million 123-byte frames would cost is 123 MB of buffers; the client holds one
    // queued message and what the socket already took (its 16 KiB mark plus one batch).
    expect(client.queuedCount).toBeLessThanOrEqual(1);
    expect(after.arrayBuffers - before.arrayBuffers).toBeLessThan(16 * 1024 * 1024);
    expect(after.heapUsed - before.heapUsed).toBeLessThan(64 * 1024 * 1024);

    // Publishes fired without waiting fill the bounded queue (the loop's own publish holds one
    // place), then are refused at once, typed.
    const room = QUEUE - client.queuedCount;
    const fired = Array.from({ length: QUEUE + 50 }, () => client.publish(TOPIC, payload).then(() => 'sent', (e: unknown) => e));
    const refusals = (await Promise.race([
      Promise.all(fired.slice(room)),
      new Promise((resolve) => setTimeout(() => resolve('pending'), 2_000)),
    ])) as unknown[] | 'pending';
    expect(refusals).not.toBe('pending');
    for (const r of refusals as unknown[]) {
      expect(r).toBeInstanceOf(MqttClientError);
      expect((r as MqttClientError).code).toBe('queue-full');
    }
    expect(client.queuedCount).toBe(QUEUE);

    // Ending settles everything: the blocked loop and the queued publishes are rejected.
    const report = await client.end({ force: true });
    await loop;
    expect(loopError).toBeInstanceOf(MqttClientError);
    expect((loopError as MqttClientError).code).toBe('client-ended');
    const settled = await Promise.all(fired.slice(0, room));
    for (const s of settled) expect((s as MqttClientError).code).toBe('client-ended');
    expect(report.unacknowledged.length).toBeGreaterThanOrEqual(QUEUE);
    expect(resolved).toBe(stuckAt);
  }, 60_000);
});
