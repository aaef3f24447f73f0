/**
 * The gateway's options, checked before any I/O, and a platform that refuses the gateway's
 * shared subscriptions (a scripted server): GatewayError subscribe-refused naming the other mode.
 */
import { describe, expect, it, vi } from 'vitest';
import { connectDevice, connectGateway, createGateway, GatewayError } from '../../src/device/index.js';
import type { GatewayOptions } from '../../src/device/index.js';
import { ConfigurationError } from '../../src/shared/errors.js';
import { FakeServer } from '../support/fake-server.js';
import { VirtualClock } from '../support/virtual-clock.js';
import { GATEWAY, METERS } from './fixtures.js';

describe('gateway options', () => {
  it.each([
    [{ subscriptions: 'all' }, 'subscriptions'],
    [{ replyTimeout: 0 }, 'replyTimeout'],
    [{ signMethod: 'sha1' }, 'signMethod'],
    [{ relogin: 'yes' }, 'relogin'],
    [{ cleanSession: 1 }, 'cleanSession'],
    [{ keepAlive: 60 }, 'keepAlive'],
  ])('refuses %j before connecting', async (options, field) => {
    const openSocket = vi.fn();
    const attempt = connectGateway({ ...GATEWAY, endpoint: { host: '::1', port: 1 }, openSocket }, options as GatewayOptions);
    await expect(attempt).rejects.toBeInstanceOf(ConfigurationError);
    await expect(attempt).rejects.toMatchObject({ field });
    expect(openSocket).not.toHaveBeenCalled();
  });
});

describe('a platform that refuses the shared subscriptions', () => {
  it('rejects with subscribe-refused naming the refused filters and the other mode, and ends nothing it did not start', async () => {
    const clock = new VirtualClock();
    const server = new FakeServer({ clock });
    server.autoConnack({ type: 'connack', sessionPresent: false, returnCode: 0 });
    const device = await connectDevice({ ...GATEWAY, endpoint: { host: '::1', port: 1883 }, openSocket: server.openSocket, clock, subscribe: false });
    try {
      const attempt = createGateway(device).catch((e: unknown) => e);
      const subscribe = await server.next('subscribe');
      // Everything granted but the wildcards over other devices' topics.
      server.send({ type: 'suback', packetId: subscribe.packetId, returnCodes: subscribe.subscriptions.map((s) => (s.topicFilter.startsWith('/sys/+/') ? 0x80 : 1)) });
      const error = (await attempt) as GatewayError;
      expect(error).toBeInstanceOf(GatewayError);
      expect(error.code).toBe('subscribe-refused');
      expect(error.message).toContain('/sys/+/+/thing/service/#');
      expect(error.message).toContain("subscriptions: 'per-product'");
      expect(device.client.state).toBe('connected');
    } finally {
      await device.end({ force: true });
    }
  });

  it("'per-product' asks for a product's filters at its first login, and a refusal fails that login alone", async () => {
    const clock = new VirtualClock();
    const server = new FakeServer({ clock });
    server.autoConnack({ type: 'connack', sessionPresent: false, returnCode: 0 });
    const device = await connectDevice({ ...GATEWAY, endpoint: { host: '::1', port: 1883 }, openSocket: server.openSocket, clock, subscribe: false });
    try {
      const gatewayReady = createGateway(device, { subscriptions: 'per-product' });
      const own = await server.next('subscribe');
      server.send({ type: 'suback', packetId: own.packetId, returnCodes: own.subscriptions.map(() => 1) });
      const gateway = await gatewayReady;
      const login = gateway.login(METERS[0]!).catch((e: unknown) => e);
      const product = await server.next('subscribe');
      expect(product.subscriptions.map((s) => s.topicFilter)).toContain('/sys/a1MeterPk/+/thing/service/#');
      server.send({ type: 'suback', packetId: product.packetId, returnCodes: product.subscriptions.map(() => 0x80) });
      expect(await login).toMatchObject({ code: 'subscribe-refused', message: expect.stringContaining("subscriptions: 'wildcard'") });
      expect(gateway.subDevice('a1MeterPk', 'meter1')!.online).toBe(false);
    } finally {
      await device.end({ force: true });
    }
  });
});
