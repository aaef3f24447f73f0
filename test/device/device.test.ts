/**
 * connectDevice end to end: a device handle against the local platform stand-in over TLS on
 * [::1], from the signed CONNECT to posts, property sets, service calls, RRPC and reconnects.
 */
import { Duplex } from 'node:stream';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  AlinkPayloadError,
  AlinkTopics,
  buildAlinkReply,
  buildAlinkRequest,
  parseAlinkReply,
  platformConnackHint,
} from '../../src/aliyun/index.js';
import { ALINK_REPLY_CODES, AlinkHandlerError, AlinkReplyError, connectDevice, DeviceError } from '../../src/device/index.js';
import type { ConnectDeviceOptions, Device } from '../../src/device/index.js';
import { ConnectionRefusedError } from '../../src/client/index.js';
import { ConfigurationError } from '../../src/shared/errors.js';
import type { Emulator, EmulatorDevice, PacketEvent } from '../../src/emulator/index.js';
import { PacketDecoder } from '../../src/packet/index.js';
import type { Packet, PublishPacket } from '../../src/packet/index.js';
import { openTransport } from '../../src/transport/index.js';
import type { TransportOptions } from '../../src/transport/index.js';
import { VirtualClock } from '../support/virtual-clock.js';
import { emulatorPerTest, LAMP, SENSOR } from '../emulator/fixtures.js';

const start = emulatorPerTest();
const lampTopics = new AlinkTopics(LAMP);

const devices: Device[] = [];
afterEach(async () => {
  await Promise.all(devices.splice(0).map((device) => device.end({ force: true })));
});

/** Connects `device` to `emulator` over TLS on [::1], trusting the emulator's CA; ended after the test. */
async function connect(emulator: Emulator, overrides: Partial<ConnectDeviceOptions> = {}, device: EmulatorDevice = LAMP): Promise<Device> {
  const handle = await connectDevice({ ...device, endpoint: { host: '::1', port: emulator.port }, ca: emulator.ca, ...overrides });
  devices.push(handle);
  return handle;
}

/** The next packet the emulator traces that `accept` takes. */
function nextPacket(emulator: Emulator, accept: (event: PacketEvent) => boolean): Promise<PacketEvent> {
  return new Promise((resolve) => {
    const listener = (event: PacketEvent): void => {
      if (!accept(event)) return;
      emulator.off('packet', listener);
      resolve(event);
    };
    emulator.on('packet', listener);
  });
}

/** The next PUBLISH from a device on `topic`, with its payload read at once (it is a view into the frame). */
async function nextPublish(emulator: Emulator, topic: string): Promise<{ packet: PublishPacket; json: Record<string, unknown> }> {
  let json: Record<string, unknown> = {};
  const event = await nextPacket(emulator, ({ direction, packet }) => {
    if (direction !== 'in' || packet.type !== 'publish' || packet.topic !== topic) return false;
    json = JSON.parse(Buffer.from(packet.payload).toString('utf8')) as Record<string, unknown>;
    return true;
  });
  return { packet: event.packet as PublishPacket, json };
}

/** Every PUBLISH from a device on `topic`, as text, from now on. */
function recordPublishes(emulator: Emulator, topic: string): string[] {
  const texts: string[] = [];
  emulator.on('packet', ({ direction, packet }) => {
    if (direction === 'in' && packet.type === 'publish' && packet.topic === topic) texts.push(Buffer.from(packet.payload).toString('utf8'));
  });
  return texts;
}

/** Every error the device reports from now on. */
function recordErrors(device: Device): Error[] {
  const errors: Error[] = [];
  device.on('error', (error) => errors.push(error));
  return errors;
}

/** Settles when `promise` does, recording how, so a test can check that it has not settled yet. */
function watch<T>(promise: Promise<T>): { settled: boolean; result: Promise<T> } {
  const state = { settled: false, result: promise };
  promise.then(
    () => (state.settled = true),
    () => (state.settled = true),
  );
  return state;
}

/** Lets pending promise callbacks and socket events run. */
const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** An openSocket that records each call and then opens the real transport. */
function recordingOpenSocket(): { calls: TransportOptions[]; openSocket: (options: TransportOptions) => Promise<Duplex> } {
  const calls: TransportOptions[] = [];
  return {
    calls,
    openSocket: (options) => {
      calls.push(options);
      return openTransport(options);
    },
  };
}

/**
 * An openSocket whose socket, once `coalesceNext(n)` is called, holds what arrives until it
 * holds `n` whole MQTT packets and then hands them to the client as one chunk.
 */
function coalescingOpenSocket(): {
  openSocket: (options: TransportOptions) => Promise<Duplex>;
  coalesceNext: (packets: number) => void;
  readonly coalesced: boolean;
} {
  let held: Buffer[] | undefined;
  let wanted = 0;
  const state = {
    coalesced: false,
    coalesceNext: (packets: number): void => {
      held = [];
      wanted = packets;
    },
    openSocket: async (options: TransportOptions): Promise<Duplex> => {
      const real = await openTransport(options);
      const proxy = new Duplex({
        read() {},
        write(chunk: Buffer, _encoding, callback) {
          real.write(chunk, callback);
        },
        final(callback) {
          real.end();
          callback();
        },
        destroy(error, callback) {
          real.destroy();
          callback(error);
        },
      });
      real.on('data', (chunk: Buffer) => {
        if (held === undefined) {
          proxy.push(chunk);
          return;
        }
        held.push(chunk);
        const bytes = Buffer.concat(held);
        if (new PacketDecoder().push(bytes).length < wanted) return;
        held = undefined;
        state.coalesced = true;
        proxy.push(bytes);
      });
      real.on('end', () => proxy.push(null));
      real.on('close', () => proxy.destroy());
      real.on('error', (error) => proxy.destroy(error));
      return proxy;
    },
  };
  return state;
}

describe('connectDevice', () => {
  it('signs in over TLS on [::1] (family 6, the given CA, no SNI for an IP literal) and subscribes to the Alink topics at QoS 1', async () => {
    const emulator = await start();
    const { calls, openSocket } = recordingOpenSocket();
    const subscribe = nextPacket(emulator, ({ direction, packet }) => direction === 'in' && packet.type === 'subscribe');
    const accepted = new Promise<string>((resolve) => emulator.once('connect', (connection) => resolve(connection.clientId)));
    const device = await connect(emulator, { openSocket });

    expect(calls).toHaveLength(1);
    expect(calls[0]).toMatchObject({ host: '::1', port: emulator.port, transport: 'tls', family: 6, ca: emulator.ca, rejectUnauthorized: true });
    expect(calls[0]?.servername).toBeUndefined();
    expect(await accepted).toBe(`${LAMP.productKey}.${LAMP.deviceName}`);
    const packet = (await subscribe).packet as Extract<Packet, { type: 'subscribe' }>;
    expect(packet.subscriptions).toEqual([
      { topicFilter: lampTopics.postReplyFilter(), qos: 1 },
      { topicFilter: lampTopics.serviceFilter(), qos: 1 },
      { topicFilter: lampTopics.rrpcRequestFilter(), qos: 1 },
    ]);
    expect(device.productKey).toBe(LAMP.productKey);
    expect(device.deviceName).toBe(LAMP.deviceName);
    expect(device.client.connected).toBe(true);
    expect(device.client.options.keepalive).toBe(300);
  });

  it('subscribes to nothing with subscribe: false, and handles requests once the caller subscribes', async () => {
    const emulator = await start();
    const subscribes: Packet[] = [];
    emulator.on('packet', ({ direction, packet }) => direction === 'in' && packet.type === 'subscribe' && subscribes.push(packet));
    const device = await connect(emulator, { subscribe: false });
    device.onPropertySet(() => ({ applied: true }));
    await expect(emulator.sendPropertySet(LAMP.productKey, LAMP.deviceName, { LightSwitch: 1 })).rejects.toMatchObject({ code: 'not-subscribed' });
    expect(subscribes).toEqual([]);

    await device.client.subscribe(device.topics.serviceFilter(), { qos: 1 });
    const reply = await emulator.sendPropertySet(LAMP.productKey, LAMP.deviceName, { LightSwitch: 1 });
    expect(reply).toMatchObject({ code: 200, data: { applied: true } });
  });

  it.each<[string, Partial<ConnectDeviceOptions>, string]>([
    ['a keepalive under 30 s', { keepalive: 29 }, 'keepalive'],
    ['a keepalive over 1200 s', { keepalive: 1201 }, 'keepalive'],
    ['an empty deviceSecret', { deviceSecret: '' }, 'deviceSecret'],
    ['a productKey with &', { productKey: 'a1&b' }, 'productKey'],
    ['a deviceName with /', { deviceName: 'lamp/1' }, 'deviceName'],
    ['a clientId with |', { clientId: 'id|x' }, 'clientId'],
    ['a replyTimeout of 0', { replyTimeout: 0 }, 'replyTimeout'],
    ['a fractional replyTimeout', { replyTimeout: 1.5 }, 'replyTimeout'],
    ['a subscribe that is not a boolean', { subscribe: 'yes' as unknown as boolean }, 'subscribe'],
    ['a connectTimeout of 0', { connectTimeout: 0 }, 'connectTimeout'],
    ['family 5', { family: 5 as unknown as 6 }, 'family'],
    ['a bad endpoint host', { endpoint: { host: 'a b', port: 1883 } }, 'endpoint.host'],
  ])('refuses %s with a ConfigurationError before opening a socket', async (_, overrides, field) => {
    const openSocket = vi.fn<(options: TransportOptions) => Promise<Duplex>>();
    const attempt = connectDevice({ ...LAMP, endpoint: { host: '::1', port: 1883 }, openSocket, ...overrides });
    await expect(attempt).rejects.toBeInstanceOf(ConfigurationError);
    await expect(attempt).rejects.toMatchObject({ field });
    expect(openSocket).not.toHaveBeenCalled();
  });

  it('refuses options that are not an object', async () => {
    await expect(connectDevice(null as unknown as ConnectDeviceOptions)).rejects.toMatchObject({ field: 'options' });
  });

  it('rejects a wrong deviceSecret with CONNACK 4 and the platform hint, and stops there', async () => {
    const emulator = await start();
    const clock = new VirtualClock();
    const { calls, openSocket } = recordingOpenSocket();
    const attempt = connect(emulator, { deviceSecret: 'not-the-secret', openSocket, clock });
    await expect(attempt).rejects.toBeInstanceOf(ConnectionRefusedError);
    const error = (await attempt.catch((e: unknown) => e)) as ConnectionRefusedError;
    const hint = platformConnackHint(4);
    expect(error.returnCode).toBe(4);
    expect(error.hint).toEqual(hint);
    expect(error.message).toContain(hint.fix);
    expect(error.message).toContain(hint.cause);
    clock.advance(600_000);
    expect(calls).toHaveLength(1);
    expect(clock.pending()).toBe(0);
  });

  it('rejects an unknown device with CONNACK 5 and the platform hint', async () => {
    const emulator = await start();
    const attempt = connect(emulator, { ...LAMP, deviceName: 'ghost' });
    await expect(attempt).rejects.toMatchObject({ returnCode: 5, hint: platformConnackHint(5) });
    await expect(attempt).rejects.toThrow(platformConnackHint(5).fix);
  });

  it('ends the client when the first attempt fails, so nothing retries in the background', async () => {
    const clock = new VirtualClock();
    const openSocket = vi.fn((_: TransportOptions): Promise<Duplex> => Promise.reject(new Error('connect ECONNREFUSED ::1:1883')));
    const attempt = connectDevice({ ...LAMP, endpoint: { host: '::1', port: 1883 }, openSocket, clock, reconnect: { initialDelay: 10 } });
    await expect(attempt).rejects.toThrow('ECONNREFUSED');
    clock.advance(600_000);
    await tick();
    expect(openSocket).toHaveBeenCalledTimes(1);
    expect(clock.pending()).toBe(0);
  });
});

describe('postProperties', () => {
  it('posts thing.event.property.post at QoS 1 and resolves with the reply of the same id', async () => {
    const emulator = await start();
    const device = await connect(emulator);
    const post = nextPublish(emulator, lampTopics.propertyPost());
    const reply = await device.postProperties({ LightSwitch: 1, Temperature: 21.5 });
    const { packet, json } = await post;
    expect(packet.qos).toBe(1);
    expect(json).toEqual({ id: '1', version: '1.0', params: { LightSwitch: 1, Temperature: 21.5 }, method: 'thing.event.property.post' });
    expect(reply).toEqual({ id: '1', code: 200, data: {} });
    expect((await device.postProperties({ LightSwitch: 0 }, { qos: 0 })).id).toBe('2');
  });

  it('rejects with AlinkReplyError carrying code, message and id when the reply is not 200', async () => {
    const emulator = await start({ autoReplyPropertyPost: false });
    const device = await connect(emulator);
    const post = nextPublish(emulator, lampTopics.propertyPost());
    const result = device.postProperties({ LightSwitch: 1 }).catch((e: unknown) => e);
    const { json } = await post;
    const id = json['id'] as string;
    await emulator.publish(lampTopics.propertyPostReply(), buildAlinkReply({ id, code: 460, message: 'request parameter error: LightSwitch' }), 1);
    const error = (await result) as AlinkReplyError;
    expect(error).toBeInstanceOf(AlinkReplyError);
    expect(error).toMatchObject({ code: 460, id, replyMessage: 'request parameter error: LightSwitch', method: 'thing.event.property.post' });
    expect(error.message).toContain('460');
  });

  it('pairs replies with posts by id, whatever order they come in', async () => {
    const emulator = await start({ autoReplyPropertyPost: false });
    const device = await connect(emulator);
    const ids: string[] = [];
    emulator.on('packet', ({ direction, packet }) => {
      if (direction === 'in' && packet.type === 'publish' && packet.topic === lampTopics.propertyPost()) {
        ids.push((JSON.parse(Buffer.from(packet.payload).toString()) as { id: string }).id);
      }
    });
    const first = device.postProperties({ n: 1 });
    const second = device.postProperties({ n: 2 });
    await vi.waitFor(() => expect(ids).toHaveLength(2));
    await emulator.publish(lampTopics.propertyPostReply(), buildAlinkReply({ id: ids[1]!, data: { n: 2 } }), 1);
    await emulator.publish(lampTopics.propertyPostReply(), buildAlinkReply({ id: ids[0]!, data: { n: 1 } }), 1);
    expect((await first).data).toEqual({ n: 1 });
    expect((await second).data).toEqual({ n: 2 });
  });

  it('rejects with DeviceError reply-timeout when no reply comes in time (virtual time), and ignores a late reply', async () => {
    const emulator = await start({ autoReplyPropertyPost: false });
    const clock = new VirtualClock();
    const device = await connect(emulator, { clock, replyTimeout: 3000 });
    const errors = recordErrors(device);
    const sent = nextPublish(emulator, lampTopics.propertyPost());
    const post = watch(device.postProperties({ LightSwitch: 1 }));
    const { json } = await sent;
    clock.advance(2999);
    await tick();
    expect(post.settled).toBe(false);
    clock.advance(1);
    await expect(post.result).rejects.toBeInstanceOf(DeviceError);
    await expect(post.result).rejects.toMatchObject({ code: 'reply-timeout' });

    const short = watch(device.postProperties({ LightSwitch: 0 }, { timeout: 50 }));
    clock.advance(50);
    await expect(short.result).rejects.toMatchObject({ code: 'reply-timeout' });

    // The late reply finds nothing waiting; a later post still gets its own.
    await emulator.publish(lampTopics.propertyPostReply(), buildAlinkReply({ id: json['id'] as string }), 1);
    const third = nextPublish(emulator, lampTopics.propertyPost());
    const next = device.postProperties({ LightSwitch: 1 });
    const { json: thirdJson } = await third;
    await emulator.publish(lampTopics.propertyPostReply(), buildAlinkReply({ id: thirdJson['id'] as string, data: { ok: 1 } }), 1);
    expect((await next).data).toEqual({ ok: 1 });
    expect(errors).toEqual([]);
  });

  it('rejects waiting posts with device-ended when the device ends, and refuses posts after', async () => {
    const emulator = await start({ autoReplyPropertyPost: false });
    const device = await connect(emulator);
    const sent = nextPublish(emulator, lampTopics.propertyPost());
    const post = device.postProperties({ LightSwitch: 1 }).catch((error: unknown) => error);
    await sent;
    const report = await device.end();
    expect(report.unacknowledged).toEqual([]);
    expect(await post).toMatchObject({ name: 'DeviceError', code: 'device-ended' });
    await expect(device.postProperties({ LightSwitch: 1 })).rejects.toMatchObject({ code: 'device-ended' });
    expect(device.client.state).toBe('ended');
  });

  it('rejects waiting posts with device-ended when the client ends by itself (its signal)', async () => {
    const emulator = await start({ autoReplyPropertyPost: false });
    const controller = new AbortController();
    const device = await connect(emulator, { signal: controller.signal });
    const sent = nextPublish(emulator, lampTopics.propertyPost());
    // QoS 0: nothing awaits a PUBACK, so only the device's own bookkeeping can end the wait.
    const post = device.postProperties({ LightSwitch: 1 }, { qos: 0 }).catch((error: unknown) => error);
    await sent;
    const ended = new Promise<void>((resolve) => device.client.once('end', resolve));
    controller.abort();
    await ended;
    expect(await post).toMatchObject({ name: 'DeviceError', code: 'device-ended' });
    expect((await post) as Error).toHaveProperty('message', expect.stringContaining('the client ended'));
  });

  it('checks params, QoS, timeout and size before sending anything', async () => {
    const emulator = await start();
    const device = await connect(emulator);
    const sent = recordPublishes(emulator, lampTopics.propertyPost());
    const cases: Array<[Promise<unknown>, string]> = [
      [device.postProperties([1] as unknown as Record<string, unknown>), 'params'],
      [device.postProperties(null as unknown as Record<string, unknown>), 'params'],
      [device.postProperties({ a: 1 }, { qos: 2 as 1 }), 'qos'],
      [device.postProperties({ a: 1 }, { timeout: 0 }), 'timeout'],
      [device.postProperties({ blob: 'x'.repeat(256 * 1024) }), 'payload'],
      [device.postProperties({ big: 1n }), 'params'],
    ];
    for (const [attempt, field] of cases) {
      await expect(attempt).rejects.toBeInstanceOf(ConfigurationError);
      await expect(attempt).rejects.toMatchObject({ field });
    }
    await device.postProperties({ a: 1 }); // its reply proves the device's earlier bytes have all arrived
    expect(sent).toHaveLength(1);
  });
});

describe('postEvent', () => {
  it('posts thing.event.{identifier}.post with the output parameters as params.value and resolves with the reply', async () => {
    const emulator = await start({ autoReplyEventPost: false });
    const device = await connect(emulator);
    const topic = lampTopics.eventPost('Overheat');
    const sent = nextPublish(emulator, topic);
    const result = device.postEvent('Overheat', { Temperature: 90 }, { time: 1_524_448_722_000 });
    const { json } = await sent;
    expect(json).toEqual({
      id: '1',
      version: '1.0',
      params: { value: { Temperature: 90 }, time: 1_524_448_722_000 },
      method: 'thing.event.Overheat.post',
    });
    await emulator.publish(lampTopics.eventPostReply('Overheat'), buildAlinkReply({ id: '1' }), 1);
    expect(await result).toEqual({ id: '1', code: 200, data: {} });
  });

  it('leaves time out unless given, and does not take a reply on another event topic', async () => {
    const emulator = await start({ autoReplyEventPost: false });
    const device = await connect(emulator, { replyTimeout: 200 });
    const sent = nextPublish(emulator, lampTopics.eventPost('Alarm'));
    const result = device.postEvent('Alarm', { Level: 2 });
    expect((await sent).json['params']).toEqual({ value: { Level: 2 } });
    await emulator.publish(lampTopics.eventPostReply('Other'), buildAlinkReply({ id: '1' }), 1);
    await expect(result).rejects.toMatchObject({ code: 'reply-timeout' });
  });

  it('resolves with the stand-in\'s own reply when it answers event posts (its default)', async () => {
    const emulator = await start();
    const device = await connect(emulator);
    expect(await device.postEvent('Overheat', { Temperature: 90 })).toEqual({ id: '1', code: 200, data: {} });
  });

  it('refuses an identifier that names another topic, and a bad time', async () => {
    const emulator = await start();
    const device = await connect(emulator);
    await expect(device.postEvent('property', {})).rejects.toMatchObject({ field: 'identifier' });
    await expect(device.postEvent('a/b', {})).rejects.toMatchObject({ field: 'identifier' });
    await expect(device.postEvent('Alarm', {}, { time: -1 })).rejects.toMatchObject({ field: 'time' });
    await expect(device.postEvent('Alarm', 'x' as unknown as Record<string, unknown>)).rejects.toMatchObject({ field: 'params' });
  });
});

describe('property set', () => {
  it('hands params and the request to the handler and replies 200 with what it returns', async () => {
    const emulator = await start();
    const device = await connect(emulator);
    const handler = vi.fn((params: Readonly<Record<string, unknown>>) => ({ applied: params['LightSwitch'] }));
    device.onPropertySet(handler);
    const reply = await emulator.sendPropertySet(LAMP.productKey, LAMP.deviceName, { LightSwitch: 1 });
    expect(reply).toMatchObject({ code: 200, data: { applied: 1 } });
    expect(handler).toHaveBeenCalledTimes(1);
    const [params, request] = handler.mock.calls[0] as unknown as [unknown, { id: string; method: string }];
    expect(params).toEqual({ LightSwitch: 1 });
    expect(request).toMatchObject({ id: reply.id, method: 'thing.service.property.set', version: '1.0' });
  });

  it('waits for an async handler, and replies with data {} when it resolves with nothing', async () => {
    const emulator = await start();
    const device = await connect(emulator);
    device.onPropertySet(async () => {
      await tick();
    });
    expect(await emulator.sendPropertySet(LAMP.productKey, LAMP.deviceName, { LightSwitch: 0 })).toMatchObject({ code: 200, data: {} });
  });

  it('replies 400 when the handler throws, and reports handler-failed with the cause', async () => {
    const emulator = await start();
    const device = await connect(emulator);
    const errors = recordErrors(device);
    const failure = new Error('relay stuck');
    device.onPropertySet(() => Promise.reject(failure));
    const reply = await emulator.sendPropertySet(LAMP.productKey, LAMP.deviceName, { LightSwitch: 1 });
    expect(reply).toMatchObject({ code: ALINK_REPLY_CODES.requestError, data: {} });
    expect(reply.message).toMatch(/^request error/);
    expect(reply.message).not.toContain('relay stuck');
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ name: 'DeviceError', code: 'handler-failed', cause: failure });
  });

  it('replies with the code, message and data of an AlinkHandlerError, without reporting it', async () => {
    const emulator = await start();
    const device = await connect(emulator);
    const errors = recordErrors(device);
    device.onPropertySet(() => {
      throw new AlinkHandlerError(460, 'LightSwitch must be 0 or 1', { data: { field: 'LightSwitch' } });
    });
    const reply = await emulator.sendPropertySet(LAMP.productKey, LAMP.deviceName, { LightSwitch: 7 });
    expect(reply).toMatchObject({ code: 460, message: 'LightSwitch must be 0 or 1', data: { field: 'LightSwitch' } });
    expect(errors).toEqual([]);
  });

  it('replies 400 and reports when the handler returns data that is not JSON', async () => {
    const emulator = await start();
    const device = await connect(emulator);
    const errors = recordErrors(device);
    device.onPropertySet(() => ({ big: 1n }));
    expect(await emulator.sendPropertySet(LAMP.productKey, LAMP.deviceName, {})).toMatchObject({ code: 400 });
    expect(errors[0]).toMatchObject({ code: 'handler-failed' });
  });

  it('replies not supported when no handler is registered, or after it is removed, and reports no-handler', async () => {
    const emulator = await start();
    const device = await connect(emulator);
    const errors = recordErrors(device);
    const notSupported = { code: ALINK_REPLY_CODES.notSupported, message: 'not supported: this device has no handler for thing.service.property.set' };
    expect(await emulator.sendPropertySet(LAMP.productKey, LAMP.deviceName, { LightSwitch: 1 })).toMatchObject(notSupported);
    expect(errors[0]).toMatchObject({ code: 'no-handler' });

    const remove = device.onPropertySet(() => ({}));
    expect(await emulator.sendPropertySet(LAMP.productKey, LAMP.deviceName, {})).toMatchObject({ code: 200 });
    remove();
    remove();
    expect(await emulator.sendPropertySet(LAMP.productKey, LAMP.deviceName, {})).toMatchObject(notSupported);
    expect(errors).toHaveLength(2);
  });

  it('refuses a second handler and a handler that is not a function', async () => {
    const emulator = await start();
    const device = await connect(emulator);
    device.onPropertySet(() => ({}));
    expect(() => device.onPropertySet(() => ({}))).toThrow(ConfigurationError);
    expect(() => device.onRrpc('x' as never)).toThrow(ConfigurationError);
    expect(() => new AlinkHandlerError(200, 'fine')).toThrow(ConfigurationError);
  });

  it('holds a request that arrives with the SUBACK until a handler registered right after connectDevice resolves', async () => {
    const emulator = await start();
    const gate = coalescingOpenSocket();
    let reply: Promise<unknown> | undefined;
    emulator.on('packet', ({ direction, packet }) => {
      if (direction === 'out' && packet.type === 'suback' && reply === undefined) {
        // The SUBACK and the request reach the client as one chunk, so both are read before
        // connectDevice's caller runs again.
        gate.coalesceNext(2);
        reply = emulator.sendPropertySet(LAMP.productKey, LAMP.deviceName, { LightSwitch: 1 });
      }
    });
    const device = await connect(emulator, { openSocket: gate.openSocket });
    device.onPropertySet(() => ({ early: true }));
    expect(gate.coalesced).toBe(true);
    expect(await reply).toMatchObject({ code: 200, data: { early: true } });
  });
});

describe('service calls', () => {
  it('calls the handler of the service and replies on its _reply topic; other services are not supported', async () => {
    const emulator = await start();
    const device = await connect(emulator);
    const replies = recordPublishes(emulator, lampTopics.serviceCallReply('reboot'));
    device.onService('reboot', (params) => ({ after: params['delay'] }));
    const reply = await emulator.callService(LAMP.productKey, LAMP.deviceName, 'reboot', { delay: 5 });
    expect(reply).toMatchObject({ code: 200, data: { after: 5 } });
    expect(replies).toHaveLength(1);
    expect(parseAlinkReply(replies[0]!).id).toBe(reply.id);
    expect(await emulator.callService(LAMP.productKey, LAMP.deviceName, 'selfDestruct', {})).toMatchObject({
      code: ALINK_REPLY_CODES.notSupported,
    });
  });

  it('refuses an identifier that cannot be a service topic, and a second handler for one service', async () => {
    const emulator = await start();
    const device = await connect(emulator);
    expect(() => device.onService('reboot_reply', () => ({}))).toThrow(ConfigurationError);
    expect(() => device.onService('', () => ({}))).toThrow(ConfigurationError);
    const remove = device.onService('reboot', () => ({}));
    expect(() => device.onService('reboot', () => ({}))).toThrow(ConfigurationError);
    remove();
    expect(() => device.onService('reboot', () => ({}))).not.toThrow();
  });

  it('answers a synchronous service call that comes over RRPC on rrpc/response with an Alink reply', async () => {
    const emulator = await start();
    const device = await connect(emulator);
    device.onService('getTemperature', (params) => ({ value: 21.5, unit: params['unit'] }));
    device.onRrpc(() => 'the raw handler must not see service calls');
    const request = buildAlinkRequest({ id: '42', method: 'thing.service.getTemperature', params: { unit: 'C' } });
    const response = await emulator.rrpc(LAMP.productKey, LAMP.deviceName, request);
    expect(parseAlinkReply(response)).toEqual({ id: '42', code: 200, data: { value: 21.5, unit: 'C' } });
  });
});

describe('RRPC', () => {
  it('hands the request bytes and messageId to the handler and publishes its answer on rrpc/response', async () => {
    const emulator = await start();
    const device = await connect(emulator);
    const seen: Array<[string, string]> = [];
    device.onRrpc(async (payload, messageId) => {
      seen.push([Buffer.from(payload).toString(), messageId]);
      return `pong:${Buffer.from(payload).toString()}`;
    });
    const response = await emulator.rrpc(LAMP.productKey, LAMP.deviceName, 'ping');
    expect(Buffer.from(response).toString()).toBe('pong:ping');
    const bytes = await emulator.rrpc(LAMP.productKey, LAMP.deviceName, new Uint8Array([1, 2, 3]));
    expect(Buffer.from(bytes).toString()).toBe('pong:\x01\x02\x03');
    expect(seen[0]?.[1]).toMatch(/^\d+$/);
    expect(seen[1]?.[1]).not.toBe(seen[0]?.[1]);
  });

  it('answers not supported (as Alink JSON with the messageId as id) when no handler is registered', async () => {
    const emulator = await start();
    const device = await connect(emulator);
    const errors = recordErrors(device);
    const request = nextPacket(emulator, ({ direction, packet }) => direction === 'out' && packet.type === 'publish' && packet.topic.includes('/rrpc/request/'));
    const response = await emulator.rrpc(LAMP.productKey, LAMP.deviceName, 'ping');
    const messageId = ((await request).packet as PublishPacket).topic.split('/').pop();
    expect(parseAlinkReply(response)).toMatchObject({ id: messageId, code: ALINK_REPLY_CODES.notSupported });
    expect(errors[0]).toMatchObject({ code: 'no-handler' });
  });

  it('answers an Alink request over RRPC with no matching handler as not supported, with its own id', async () => {
    const emulator = await start();
    await connect(emulator);
    const request = buildAlinkRequest({ id: '77', method: 'thing.service.unknown', params: {} });
    expect(parseAlinkReply(await emulator.rrpc(LAMP.productKey, LAMP.deviceName, request))).toMatchObject({
      id: '77',
      code: ALINK_REPLY_CODES.notSupported,
    });
  });

  it('answers 400 (reported) when the handler throws or returns something that is not bytes or text', async () => {
    const emulator = await start();
    const device = await connect(emulator);
    const errors = recordErrors(device);
    let answer: unknown = 5;
    device.onRrpc(() => {
      if (answer === 'throw') throw new Error('sensor offline');
      return answer as string;
    });
    expect(parseAlinkReply(await emulator.rrpc(LAMP.productKey, LAMP.deviceName, 'a'))).toMatchObject({ code: 400 });
    answer = 'throw';
    expect(parseAlinkReply(await emulator.rrpc(LAMP.productKey, LAMP.deviceName, 'b'))).toMatchObject({ code: 400 });
    expect(errors.map((e) => (e as DeviceError).code)).toEqual(['handler-failed', 'handler-failed']);
  });
});

describe('malformed requests', () => {
  it('reports a request that is not JSON without answering it, and keeps working', async () => {
    const emulator = await start();
    const device = await connect(emulator);
    const errors = recordErrors(device);
    const replies = recordPublishes(emulator, lampTopics.propertySetReply());
    device.onPropertySet(() => ({ ok: true }));
    await emulator.publish(lampTopics.propertySet(), '{"id":"5",', 1);
    const reply = await emulator.sendPropertySet(LAMP.productKey, LAMP.deviceName, { LightSwitch: 1 });
    expect(reply).toMatchObject({ code: 200, data: { ok: true } });
    expect(replies).toHaveLength(1); // only the good request's reply: the bad one had no id to answer
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ code: 'malformed-request' });
    expect((errors[0] as DeviceError).cause).toBeInstanceOf(AlinkPayloadError);
    expect((errors[0] as DeviceError).cause).toMatchObject({ code: 'invalid-json' });
  });

  it('answers 460 to an unreadable request whose id can be read', async () => {
    const emulator = await start();
    const device = await connect(emulator);
    const errors = recordErrors(device);
    const handler = vi.fn();
    device.onService('reboot', handler);
    const reply = nextPublish(emulator, lampTopics.serviceCallReply('reboot'));
    await emulator.publish(lampTopics.serviceCall('reboot'), '{"id":"6","params":[1],"method":"thing.service.reboot"}', 1);
    const { json } = await reply;
    expect(json).toMatchObject({ id: '6', code: ALINK_REPLY_CODES.requestParameterError, data: {} });
    expect(json['message']).toMatch(/^request parameter error: bad-params/);
    expect(handler).not.toHaveBeenCalled();
    expect(errors[0]).toMatchObject({ code: 'malformed-request' });
  });

  it('reports a post reply it cannot read', async () => {
    const emulator = await start();
    const device = await connect(emulator);
    const errors = recordErrors(device);
    await emulator.publish(lampTopics.propertyPostReply(), '{"id":"1","code":"200"}', 1);
    await device.postProperties({ a: 1 }); // the round trip puts the bad reply behind us
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ code: 'malformed-reply' });
  });
});

describe('publish', () => {
  it('publishes to a custom topic at QoS 0 or 1', async () => {
    const emulator = await start();
    const device = await connect(emulator);
    const topic = device.topics.user('update');
    const sent = nextPublish(emulator, topic);
    await device.publish(topic, '{"hello":1}', { qos: 1 });
    const { packet, json } = await sent;
    expect(packet).toMatchObject({ qos: 1, retain: false });
    expect(json).toEqual({ hello: 1 });
  });

  it('checks the platform limits before sending anything', async () => {
    const emulator = await start();
    const device = await connect(emulator);
    const topic = device.topics.user('update');
    const sent = recordPublishes(emulator, topic);
    const cases: Array<[Promise<unknown>, string]> = [
      [device.publish(topic, 'x', { qos: 2 as 1 }), 'qos'],
      [device.publish(topic, new Uint8Array(256 * 1024 + 1)), 'payload'],
      [device.publish(`${topic}/${'a'.repeat(128)}`, 'x'), 'topic'],
    ];
    for (const [attempt, field] of cases) await expect(attempt).rejects.toMatchObject({ name: 'ConfigurationError', field });
    await device.publish(topic, new Uint8Array(256 * 1024), { qos: 1 }); // exactly at the limit is allowed
    expect(sent).toHaveLength(1);
  });
});

describe('reconnect', () => {
  it('keeps handling requests and posts after the emulator kicks the connection and the client reconnects', async () => {
    const emulator = await start();
    const device = await connect(emulator, { reconnect: { initialDelay: 20 } });
    device.onPropertySet((params) => ({ set: params }));
    device.onService('reboot', () => ({ rebooted: true }));
    device.onRrpc(() => 'still here');
    expect(await emulator.sendPropertySet(LAMP.productKey, LAMP.deviceName, { n: 1 })).toMatchObject({ code: 200 });

    const kicked = new Promise<void>((resolve) =>
      emulator.on('disconnect', ({ reason, deviceName }) => reason === 'kicked' && deviceName === LAMP.deviceName && resolve()),
    );
    const offline = new Promise<void>((resolve) => device.client.once('offline', resolve));
    const resubscribed = nextPacket(emulator, ({ direction, packet, connection }) => direction === 'out' && packet.type === 'suback' && connection.id > 2);
    // The same device connecting again: the platform keeps the newer connection, then ours reconnects and kicks it back.
    const intruder = await connect(emulator, { reconnect: false, subscribe: false });
    await kicked;
    await offline;
    await resubscribed;
    expect(device.client.connected).toBe(true);
    expect(intruder.client.connected).toBe(false);

    expect(await emulator.sendPropertySet(LAMP.productKey, LAMP.deviceName, { n: 2 })).toMatchObject({ code: 200, data: { set: { n: 2 } } });
    expect(await emulator.callService(LAMP.productKey, LAMP.deviceName, 'reboot', {})).toMatchObject({ data: { rebooted: true } });
    expect(Buffer.from(await emulator.rrpc(LAMP.productKey, LAMP.deviceName, 'x')).toString()).toBe('still here');
    expect(await device.postProperties({ n: 3 })).toMatchObject({ code: 200 });
  });
});

describe('several devices', () => {
  it('keeps each device to its own topics and ids', async () => {
    const emulator = await start();
    const lamp = await connect(emulator);
    const sensor = await connect(emulator, {}, SENSOR);
    lamp.onPropertySet(() => ({ who: 'lamp' }));
    sensor.onPropertySet(() => ({ who: 'sensor' }));
    expect(await emulator.sendPropertySet(SENSOR.productKey, SENSOR.deviceName, {})).toMatchObject({ data: { who: 'sensor' } });
    expect(await emulator.sendPropertySet(LAMP.productKey, LAMP.deviceName, {})).toMatchObject({ data: { who: 'lamp' } });
    expect((await lamp.postProperties({ a: 1 })).id).toBe('1');
    expect((await sensor.postProperties({ a: 1 })).id).toBe('1');
  });
});
