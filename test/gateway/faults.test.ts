/**
 * Faults: the platform refusing (each refusal a GatewayReplyError with its code, message and
 * advice), replies that never come (virtual time), unreadable replies and notices, a sub-device
 * outside the topology, a wrong secret, and the stand-in's own checks against a gateway that
 * ignores the limits. The refusals come from the stand-in; a cloud that misbehaves is scripted
 * on a private mosquitto, over TLS on [::1] both.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { buildAlinkReply, buildBatchLogin, parseBatchSessionReply } from '../../src/aliyun/index.js';
import { MqttClient } from '../../src/client/index.js';
import { connectGateway, GatewayError, GatewayLoginError, GatewayReplyError } from '../../src/device/index.js';
import type { Gateway } from '../../src/device/index.js';
import { describeWithBroker, startMosquitto } from '../support/mosquitto.js';
import type { Broker } from '../support/mosquitto.js';
import { VirtualClock } from '../support/virtual-clock.js';
import { connected, subscribe } from '../emulator/raw-client.js';
import { gatewayRig, GATEWAY, id, meter, METERS, recordUp } from './fixtures.js';

const rig = gatewayRig();
const GW = [GATEWAY.productKey, GATEWAY.deviceName] as const;
const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('refusals from the stand-in', () => {
  it('a sub-device not in the topology: 6401, named, with what to do', async () => {
    const stranger = meter(7);
    const { connect } = await rig({ extra: [stranger] });
    const gateway = await connect();
    const error = (await gateway.login(stranger).catch((e: unknown) => e)) as GatewayReplyError;
    expect(error).toBeInstanceOf(GatewayReplyError);
    expect(error).toMatchObject({ code: 6401, replyMessage: 'topo relation not exist', method: 'combine/login', subDevices: [id(stranger)] });
    expect(error.hint).toMatch(/addTopology/);
    expect(error.message).toContain('a1MeterPk/meter7');
    expect(gateway.subDevice('a1MeterPk', 'meter7')!.online).toBe(false);
  });

  it('a topology add with a wrong secret: 401 naming the sub-device, and none of the message is added', async () => {
    const { emulator, connect } = await rig({ emptyTopology: true });
    const gateway = await connect();
    const attempt = gateway.addTopology([METERS[0]!, { ...METERS[1]!, deviceSecret: 'wrong' }, METERS[2]!]);
    await expect(attempt).rejects.toMatchObject({ name: 'GatewayReplyError', code: 401, subDevices: [id(METERS[1]!)] });
    await expect(attempt).rejects.toThrow(/DeviceSecret/);
    expect(emulator.gateway.topology(...GW)).toEqual([]);
    // The message never carries a secret, right or wrong.
    await expect(attempt).rejects.not.toThrow(/wrong|meter\d-secret/);
  });

  it('a login with a wrong secret: 6287; in a batch, the others get in with a second batch and the error names the one', async () => {
    const { emulator, connect } = await rig();
    const up = recordUp(emulator);
    const gateway = await connect();
    await expect(gateway.login({ ...METERS[0]!, deviceSecret: 'wrong' })).rejects.toMatchObject({ code: 6287, replyMessage: 'invalid sign' });
    const error = (await gateway.loginAll([METERS[0]!, { ...METERS[1]!, deviceSecret: 'wrong' }, METERS[2]!]).catch((e: unknown) => e)) as GatewayLoginError;
    expect(error).toBeInstanceOf(GatewayLoginError);
    expect(error.loggedIn.map((s) => s.deviceName)).toEqual(['meter1', 'meter3']);
    expect(error.failed).toEqual([{ ...id(METERS[1]!), error: expect.objectContaining({ code: 6287 }) }]);
    expect(error.message).toMatch(/1 of 3 sub-devices were not logged in \(a1MeterPk\/meter2\)/);
    const batches = up.filter((m) => m.topic.endsWith('/combine/batch_login')).map((m) => (m.json['params'] as { deviceList: Array<{ deviceName: string }> }).deviceList.map((d) => d.deviceName));
    expect(batches).toEqual([['meter1', 'meter2', 'meter3'], ['meter1', 'meter3']]);
    expect(emulator.gateway.subDevicesOnline(...GW)).toEqual([id(METERS[0]!), id(METERS[2]!)]);
  });

  it('a sub-device post whose reply never comes: GatewayError reply-timeout at the reply timeout, in virtual time', async () => {
    const { emulator, connect } = await rig({ autoReplyPropertyPost: false });
    const clock = new VirtualClock();
    const gateway = await connect({ clock }, { replyTimeout: 3000 });
    const sub = await gateway.login(METERS[0]!);
    const up = recordUp(emulator);
    let settled: unknown;
    const post = sub.postProperties({ a: 1 }).then((v) => (settled = v), (e: unknown) => (settled = e));
    await vi.waitFor(() => expect(up.some((m) => m.topic.endsWith('/property/post'))).toBe(true));
    clock.advance(2999);
    await tick();
    expect(settled).toBeUndefined();
    clock.advance(1);
    await post;
    expect(settled).toBeInstanceOf(GatewayError);
    expect(settled).toMatchObject({ code: 'reply-timeout', message: expect.stringContaining('/sys/a1MeterPk/meter1/thing/event/property/post_reply within 3000 ms') });
  });

  it('an unreadable post reply with a readable id fails its post at once with malformed-reply', async () => {
    const { emulator, connect } = await rig({ autoReplyPropertyPost: false });
    const gateway = await connect();
    const sub = await gateway.login(METERS[0]!);
    const up = recordUp(emulator);
    const post = sub.postProperties({ a: 1 });
    await vi.waitFor(() => expect(up.some((m) => m.topic.endsWith('/property/post'))).toBe(true));
    const postId = up.find((m) => m.topic.endsWith('/property/post'))!.json['id'] as string;
    await emulator.publish('/sys/a1MeterPk/meter1/thing/event/property/post_reply', `{"id":"${postId}","code":"two hundred"}`);
    await expect(post).rejects.toMatchObject({ name: 'GatewayError', code: 'malformed-reply', message: expect.stringContaining(`id ${postId}`) });
  });
});

describe("the stand-in against a gateway that ignores the platform's limits", () => {
  it('logging in a 2,001st sub-device gets 428, and a sub-device logging in a sixth time in a minute gets 429', async () => {
    const meters = Array.from({ length: 2001 }, (_, i) => meter(i + 1));
    const { emulator } = await rig({ extra: meters.slice(3), topology: [{ gateway: id(GATEWAY), subDevices: meters.map(id) }] });
    const raw = await connected(emulator, GATEWAY);
    const publish = (topic: string, payload: string): void =>
      raw.send({ type: 'publish', topic, payload: Buffer.from(payload), qos: 0, retain: false, dup: false });
    try {
      await subscribe(raw, 1, ['/ext/session/a1GatewayPk/gw1/combine/batch_login_reply', 0]);
      const login = async (batch: typeof meters, n: number): Promise<ReturnType<typeof parseBatchSessionReply>> => {
        publish('/ext/session/a1GatewayPk/gw1/combine/batch_login', buildBatchLogin({ id: String(n), subDevices: batch }));
        const reply = await raw.next('publish');
        return parseBatchSessionReply(reply.payload);
      };
      let n = 0;
      for (let start = 0; start < 2000; start += 50) expect((await login(meters.slice(start, start + 50), ++n)).code).toBe(200);
      expect(emulator.gateway.subDevicesOnline(...GW)).toHaveLength(2000);
      const over = await login([meters[2000]!], ++n);
      expect(over).toMatchObject({ ok: false, code: 428, message: 'too many subdevices under gateway', data: [id(meters[2000]!)] });
      // Logging in again one already online counts toward its five a minute: the sixth is refused.
      for (let i = 0; i < 4; i++) expect((await login([meters[0]!], ++n)).code).toBe(200);
      expect(await login([meters[0]!], ++n)).toMatchObject({ code: 429 });
      // An unreadable login is answered 460 with its id.
      publish('/ext/session/a1GatewayPk/gw1/combine/batch_login', '{"id":"77","params":{"deviceList":"nope"}}');
      expect(parseBatchSessionReply((await raw.next('publish')).payload)).toMatchObject({ id: '77', code: 460 });
    } finally {
      raw.destroy();
    }
  });
});

describeWithBroker('a cloud that misbehaves (scripted on mosquitto)', () => {
  let broker: Broker;
  beforeAll(async () => {
    broker = await startMosquitto();
  });
  afterAll(() => broker.stop());

  /** The gateway on the broker, and the test as its cloud, watching what the gateway sends. */
  async function scripted(clock?: VirtualClock): Promise<{ gateway: Gateway; cloud: MqttClient; requests: Array<{ topic: string; json: Record<string, unknown> }> }> {
    const cloud = new MqttClient({ host: '::1', port: broker.tlsPort, family: 6, ca: broker.ca, clientId: `cloud-${process.pid}-${Math.random()}`, reconnect: false });
    await cloud.connect();
    const requests: Array<{ topic: string; json: Record<string, unknown> }> = [];
    cloud.on('message', (topic, payload) => {
      // Its own notices come back to it too; what the gateway sends is JSON.
      if (topic.endsWith('_reply') || topic.endsWith('/topo/change')) return;
      requests.push({ topic, json: JSON.parse(payload.toString()) as Record<string, unknown> });
    });
    await cloud.subscribe(['/sys/a1GatewayPk/gw1/thing/topo/+', '/ext/session/a1GatewayPk/gw1/combine/+', '/sys/a1GatewayPk/gw1/thing/topo/change_reply'], { qos: 1 });
    const gateway = await connectGateway({ ...GATEWAY, endpoint: { host: '::1', port: broker.tlsPort }, ca: broker.ca, ...(clock === undefined ? {} : { clock }) }, { replyTimeout: 5000 });
    return { gateway, cloud, requests };
  }

  async function waitForRequest(requests: Array<{ topic: string; json: Record<string, unknown> }>, suffix: string): Promise<string> {
    await vi.waitFor(() => expect(requests.some((r) => r.topic.endsWith(suffix))).toBe(true));
    return requests.filter((r) => r.topic.endsWith(suffix)).at(-1)!.json['id'] as string;
  }

  it('a topology request nobody answers: reply-timeout in virtual time, naming an unreadable reply that came meanwhile', async () => {
    const clock = new VirtualClock();
    const { gateway, cloud, requests } = await scripted(clock);
    try {
      const errors: Error[] = [];
      gateway.on('error', (error) => errors.push(error));
      let settled: unknown;
      const get = gateway.getTopology().then((v) => (settled = v), (e: unknown) => (settled = e));
      await waitForRequest(requests, '/thing/topo/get');
      await cloud.publish('/sys/a1GatewayPk/gw1/thing/topo/get_reply', 'not json at all', { qos: 1 });
      await vi.waitFor(() => expect(errors).toHaveLength(1));
      expect(errors[0]).toMatchObject({ code: 'malformed-reply' });
      clock.advance(4999);
      await tick();
      expect(settled).toBeUndefined();
      clock.advance(1);
      await get;
      expect(settled).toMatchObject({ name: 'GatewayError', code: 'reply-timeout', message: expect.stringContaining('unreadable reply') });
    } finally {
      await gateway.end({ force: true });
      await cloud.end({ force: true });
    }
  });

  it('a reply of the wrong shape fails its request at once; a refusal carries the code and message', async () => {
    const { gateway, cloud, requests } = await scripted();
    try {
      const first = gateway.getTopology().catch((e: unknown) => e);
      const firstId = await waitForRequest(requests, '/thing/topo/get');
      await cloud.publish('/sys/a1GatewayPk/gw1/thing/topo/get_reply', JSON.stringify({ id: firstId, code: 200, data: 'nope' }), { qos: 1 });
      expect(await first).toMatchObject({ code: 'malformed-reply', cause: expect.objectContaining({ name: 'PlatformPayloadError', field: 'data' }) });

      const second = gateway.deleteTopology([id(METERS[0]!)]).catch((e: unknown) => e);
      const secondId = await waitForRequest(requests, '/thing/topo/delete');
      await cloud.publish('/sys/a1GatewayPk/gw1/thing/topo/delete_reply', buildAlinkReply({ id: secondId, code: 460, message: 'request parameter error' }), { qos: 1 });
      expect(await second).toMatchObject({ name: 'GatewayReplyError', code: 460, replyMessage: 'request parameter error', id: secondId });
    } finally {
      await gateway.end({ force: true });
      await cloud.end({ force: true });
    }
  });

  it('unreadable notices are reported, answered 460 when they have an id, and a flood of them changes nothing else', async () => {
    const { gateway, cloud, requests } = await scripted();
    try {
      const errors: Error[] = [];
      gateway.on('error', (error) => errors.push(error));
      const answers: Array<Record<string, unknown>> = [];
      cloud.on('message', (topic, payload) => {
        if (topic.endsWith('/topo/change_reply')) answers.push(JSON.parse(payload.toString()) as Record<string, unknown>);
      });
      await cloud.publish('/sys/a1GatewayPk/gw1/thing/topo/change', JSON.stringify({ id: '5', version: '1.0', params: { status: 3, subList: [] }, method: 'thing.topo.change' }), { qos: 1 });
      await vi.waitFor(() => expect(answers).toEqual([expect.objectContaining({ id: '5', code: 460 })]));
      for (let start = 0; start < 2000; start += 100) {
        const flood = Array.from({ length: 100 }, (_, j) => start + j).map((i) =>
          cloud.publish(i % 2 === 0 ? '/ext/error/a1GatewayPk/gw1' : '/sys/a1GatewayPk/gw1/thing/topo/change', i % 3 === 0 ? '\u0000\u00ff' : `{"id":${i}}`, { qos: 1 }),
        );
        await Promise.all(flood);
      }
      await vi.waitFor(() => expect(errors).toHaveLength(2001));
      expect(errors.every((e) => e instanceof GatewayError && e.code === 'malformed-reply')).toBe(true);
      // Still answering: a normal request goes through.
      const get = gateway.getTopology();
      const getId = await waitForRequest(requests, '/thing/topo/get');
      await cloud.publish('/sys/a1GatewayPk/gw1/thing/topo/get_reply', buildAlinkReply({ id: getId, data: [id(METERS[0]!)] }), { qos: 1 });
      expect(await get).toEqual([id(METERS[0]!)]);
    } finally {
      await gateway.end({ force: true });
      await cloud.end({ force: true });
    }
  });

  it('ending the gateway fails what waits with gateway-ended', async () => {
    const { gateway, cloud, requests } = await scripted();
    try {
      const login = gateway.loginAll(METERS).catch((e: unknown) => e);
      await waitForRequest(requests, '/combine/batch_login');
      await gateway.end({ force: true });
      const error = (await login) as GatewayLoginError;
      expect(error).toBeInstanceOf(GatewayLoginError);
      expect(error.failed.map((f) => (f.error as GatewayError).code)).toEqual(['gateway-ended', 'gateway-ended', 'gateway-ended']);
      await expect(gateway.getTopology()).rejects.toMatchObject({ code: 'gateway-ended' });
    } finally {
      await cloud.end({ force: true });
    }
  });
});
