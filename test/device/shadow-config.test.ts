/**
 * The device shadow and remote configuration against the stand-in over TLS on [::1]: versions,
 * desired-state pushes, configuration gets and pushes, and the faults (no answer, an error code,
 * an answer that is not JSON, a handler that fails).
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { buildAlinkReply } from '../../src/aliyun/index.js';
import type { ConfigFile } from '../../src/aliyun/index.js';
import { serviceTopic } from '../../src/aliyun/service-topics.js';
import {
  AlinkHandlerError,
  AlinkReplyError,
  getConfig,
  onConfigPush,
  openShadow,
  SHADOW_ERROR_CODES,
  ShadowReplyError,
} from '../../src/device/index.js';
import type { ShadowDelta } from '../../src/device/index.js';
import { ConfigurationError } from '../../src/shared/errors.js';
import { VirtualClock } from '../support/virtual-clock.js';
import { emulatorPerTest, LAMP, SENSOR } from '../emulator/fixtures.js';
import { connect, nextPublish, recordErrors, recordPublishes, rejection, tick, watch } from './service-support.js';

const start = emulatorPerTest();
const { productKey, deviceName } = LAMP;
const shadowUpdate = serviceTopic('shadow-update', LAMP);
const shadowGet = serviceTopic('shadow-get', LAMP);

const CONFIG: ConfigFile = {
  configId: 'cfg-2',
  configSize: 13,
  sign: createHash('sha256').update('{"rate": 10}\n').digest('hex'),
  signMethod: 'sha256',
  url: 'https://[::1]:8443/config/cfg-2',
  getType: 'file',
};

/** The next `desired` event of a shadow. */
function nextDelta(shadow: Awaited<ReturnType<typeof openShadow>>): Promise<ShadowDelta> {
  return new Promise((resolve) => shadow.once('desired', resolve));
}

describe('the device shadow', () => {
  it('reports with a version found by a get first, then counts on; the stand-in merges and keeps metadata', async () => {
    const emulator = await start({ wallClock: () => 1_700_000_000_500 });
    const device = await connect(emulator);
    const shadow = await openShadow(device);
    expect(await openShadow(device)).toBe(shadow);
    expect(shadow.version).toBeUndefined();
    const sent = recordPublishes(emulator);
    const first = nextPublish(emulator, shadowUpdate);
    expect(await shadow.report({ color: 'red', brightness: 30 })).toBe(1);
    expect(await first).toEqual({ method: 'get' });
    const second = nextPublish(emulator, shadowUpdate);
    expect(await shadow.report({ brightness: 40 })).toBe(2);
    expect(await second).toEqual({ method: 'update', state: { reported: { brightness: 40 } }, version: 2 });
    expect(sent).toEqual([shadowUpdate, shadowUpdate, shadowUpdate]);
    expect(emulator.shadow(productKey, deviceName)).toEqual({
      reported: { color: 'red', brightness: 40 },
      desired: {},
      metadata: { reported: { color: { timestamp: 1_700_000_000 }, brightness: { timestamp: 1_700_000_000 } }, desired: {} },
      version: 2,
    });
    expect(await shadow.get()).toMatchObject({ reported: { color: 'red', brightness: 40 }, desired: {}, version: 2, timestamp: 1_700_000_000 });
  });

  it('takes the desired state an application sets as an event, and clears it once applied', async () => {
    const emulator = await start();
    const device = await connect(emulator);
    const shadow = await openShadow(device);
    await shadow.report({ color: 'red' });
    const delta = nextDelta(shadow);
    expect(emulator.updateShadow(productKey, deviceName, { color: 'green' })).toBe(2);
    expect(await delta).toMatchObject({ desired: { color: 'green' }, reported: { color: 'red' }, version: 2 });
    expect(shadow.version).toBe(2);
    expect(await shadow.report({ color: 'green' })).toBe(3);
    expect(await shadow.clearDesired()).toBe(4);
    expect(emulator.shadow(productKey, deviceName)).toMatchObject({ reported: { color: 'green' }, desired: {}, version: 4 });
  });

  it('a desired state set while the device was away is in the document it gets', async () => {
    const emulator = await start();
    expect(emulator.updateShadow(productKey, deviceName, { mode: 'eco' }, { version: 7 })).toBe(7);
    const device = await connect(emulator);
    const shadow = await openShadow(device);
    expect(await shadow.get()).toMatchObject({ desired: { mode: 'eco' }, reported: {}, version: 7 });
    expect(() => emulator.updateShadow(productKey, deviceName, { mode: 'x' }, { version: 7 })).toThrow(ConfigurationError);
    expect(() => emulator.updateShadow(productKey, 'nobody', { mode: 'x' })).toThrow(ConfigurationError);
  });

  it('a version conflict: ShadowReplyError 409 for a version given; found again and retried once when left out', async () => {
    const emulator = await start();
    const device = await connect(emulator);
    const shadow = await openShadow(device);
    await shadow.report({ color: 'red' });
    const error = await rejection(shadow.report({ color: 'blue' }, { version: 1 }));
    expect(error).toBeInstanceOf(ShadowReplyError);
    expect(error).toMatchObject({ errorCode: SHADOW_ERROR_CODES.versionConflict, versionConflict: true, method: 'update' });
    expect(error.message).toContain('409');
    // An application moves the version on while the device does not hear of it.
    await device.client.unsubscribe(shadow.topic);
    emulator.updateShadow(productKey, deviceName, { color: 'green' }, { version: 10 });
    await device.client.subscribe(shadow.topic, { qos: 1 });
    const sent = recordPublishes(emulator);
    expect(await shadow.report({ color: 'green' })).toBe(11);
    expect(sent).toHaveLength(3); // update (409), get, update
  });

  it('deletes reported keys, or all of them; -1 resets the version', async () => {
    const emulator = await start();
    const device = await connect(emulator);
    const shadow = await openShadow(device);
    await shadow.report({ a: 1, b: 2, c: 3 });
    const sent = nextPublish(emulator, shadowUpdate);
    expect(await shadow.delete(['a'])).toBe(2);
    expect(await sent).toEqual({ method: 'delete', state: { reported: { a: 'null' } }, version: 2 });
    expect(emulator.shadow(productKey, deviceName).reported).toEqual({ b: 2, c: 3 });
    await shadow.report({ b: 'null' });
    expect(emulator.shadow(productKey, deviceName).reported).toEqual({ c: 3 });
    expect(await shadow.delete('all', { version: -1 })).toBe(0);
    expect(emulator.shadow(productKey, deviceName)).toMatchObject({ reported: {}, version: 0 });
  });

  it('the stand-in’s refusals carry the page’s codes: 408 for more than 128 reported keys, 400 for a request that is not JSON', async () => {
    const emulator = await start();
    const device = await connect(emulator);
    const shadow = await openShadow(device);
    const many = Object.fromEntries(Array.from({ length: 129 }, (_, i) => [`k${i}`, i]));
    expect(await rejection(shadow.report(many))).toMatchObject({ errorCode: '408' });
    const answer = new Promise<Record<string, unknown>>((resolve) =>
      device.client.once('message', (_topic, payload) => resolve(JSON.parse(payload.toString()) as Record<string, unknown>)),
    );
    await device.publish(shadowUpdate, 'not json', { qos: 1 });
    expect(await answer).toMatchObject({ method: 'reply', payload: { status: 'error', content: { errorcode: '400' } } });
  });

  it('a reported state nested 120,000 deep (a 240 KB PUBLISH) is refused with 400, and the stand-in serves on', async () => {
    const emulator = await start();
    const device = await connect(emulator);
    const shadow = await openShadow(device);
    const deep = `{"method":"update","state":{"reported":{"a":${'['.repeat(120_000)}${']'.repeat(120_000)}}},"version":5}`;
    const answer = new Promise<Record<string, unknown>>((resolve) =>
      device.client.once('message', (_topic, payload) => resolve(JSON.parse(payload.toString()) as Record<string, unknown>)),
    );
    await device.publish(shadowUpdate, deep, { qos: 1 });
    expect(await answer).toMatchObject({ payload: { status: 'error', content: { errorcode: '400' } } });
    expect(await shadow.get()).toMatchObject({ reported: {}, version: 0 });
    const nested = JSON.parse(`{"a":${'['.repeat(31)}1${']'.repeat(31)}}`) as Record<string, unknown>;
    expect(await shadow.report(nested)).toBe(1);
  });

  it('checks what it writes before anything is sent', async () => {
    const emulator = await start();
    const device = await connect(emulator);
    const shadow = await openShadow(device);
    const sent = recordPublishes(emulator);
    await expect(shadow.report({})).rejects.toBeInstanceOf(ConfigurationError);
    await expect(shadow.report([] as never)).rejects.toBeInstanceOf(ConfigurationError);
    await expect(shadow.report({ a: 1 }, { version: 1.5 })).rejects.toMatchObject({ field: 'version' });
    await expect(shadow.delete([])).rejects.toMatchObject({ field: 'keys' });
    await expect(shadow.clearDesired({ version: -2 })).rejects.toMatchObject({ field: 'version' });
    await expect(shadow.get({ timeout: 0 })).rejects.toMatchObject({ field: 'timeout' });
    await tick();
    expect(sent).toEqual([]);
  });

  it('times out in virtual time; a late answer does not settle the next request', async () => {
    const emulator = await start({ autoReplyServices: false });
    const clock = new VirtualClock();
    const device = await connect(emulator, { clock, replyTimeout: 2000 });
    const shadow = await openShadow(device);
    const sent = nextPublish(emulator, shadowUpdate);
    const get = watch(shadow.get());
    await sent;
    clock.advance(1999);
    await tick();
    expect(get.settled).toBe(false);
    clock.advance(1);
    expect(await rejection(get.result)).toMatchObject({ name: 'DeviceError', code: 'reply-timeout' });
    // Writes go one at a time: the second waits for the first.
    const writes = recordPublishes(emulator);
    const firstWrite = nextPublish(emulator, shadowUpdate);
    const one = watch(shadow.report({ a: 1 }, { version: 5 }));
    const two = watch(shadow.report({ a: 2 }, { version: 6 }));
    await firstWrite;
    // A round trip: the stand-in has read everything the device wrote before its PINGREQ.
    await tick();
    await device.client.ping();
    expect(writes).toEqual([shadowUpdate]);
    // A late acceptance of another version is not the answer; the one for version 5 is.
    await emulator.publish(shadowGet, JSON.stringify({ method: 'reply', payload: { status: 'success', version: 4 }, timestamp: 1 }), 1);
    await tick();
    expect(one.settled).toBe(false);
    await emulator.publish(shadowGet, JSON.stringify({ method: 'reply', payload: { status: 'success', version: 5 }, timestamp: 1 }), 1);
    expect(await one.result).toBe(5);
    await emulator.publish(shadowGet, JSON.stringify({ method: 'reply', payload: { status: 'error', content: { errorcode: '500', errormessage: 'busy' } }, timestamp: 1 }), 1);
    expect(await rejection(two.result)).toMatchObject({ errorCode: '500', errorMessage: 'busy', method: 'update' });
  });

  it('an answer that is not JSON fails the request waiting; with none waiting it is reported', async () => {
    const emulator = await start({ autoReplyServices: false });
    const device = await connect(emulator);
    const errors = recordErrors(device);
    const shadow = await openShadow(device);
    const sent = nextPublish(emulator, shadowUpdate);
    const get = rejection(shadow.get());
    await sent;
    await emulator.publish(shadowGet, '{"method":"reply","payload":', 1);
    const error = await get;
    expect(error).toMatchObject({ code: 'malformed-reply' });
    expect(error.message).toContain('shadow get');
    await emulator.publish(shadowGet, '{"method":"control"}', 1);
    await tick();
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ code: 'malformed-reply' });
  });

  it('a device cannot write another device’s shadow through its own connection', async () => {
    const emulator = await start();
    const device = await connect(emulator);
    await device.publish(serviceTopic('shadow-update', SENSOR), JSON.stringify({ method: 'update', state: { reported: { x: 1 } }, version: 1 }), { qos: 1 });
    await openShadow(device).then((shadow) => shadow.get()); // a round trip after the stray write
    expect(emulator.shadow(SENSOR.productKey, SENSOR.deviceName)).toMatchObject({ reported: {}, version: 0 });
  });
});

describe('remote configuration', () => {
  it('getConfig: undefined while the product has none, then the file the console published', async () => {
    const emulator = await start();
    const device = await connect(emulator);
    const sent = nextPublish(emulator, serviceTopic('config-get', LAMP));
    expect(await getConfig(device)).toBeUndefined();
    expect(await sent).toMatchObject({ method: 'thing.config.get', params: { configScope: 'product', getType: 'file' } });
    emulator.setConfig(productKey, CONFIG);
    expect(await getConfig(device)).toEqual(CONFIG);
  });

  it('onConfigPush: the handler gets the file, and the push is answered 200 once it returns', async () => {
    const emulator = await start();
    const device = await connect(emulator);
    const got: ConfigFile[] = [];
    const remove = await onConfigPush(device, async (config) => {
      await tick();
      got.push(config);
    });
    expect(await emulator.pushConfig(productKey, deviceName, CONFIG)).toMatchObject({ code: 200 });
    expect(got).toEqual([CONFIG]);
    expect(emulator.setConfig(productKey, undefined)).toBeUndefined();
    await expect(onConfigPush(device, () => {})).rejects.toMatchObject({ field: 'handler' });
    remove();
    expect(await emulator.pushConfig(productKey, deviceName, CONFIG)).toMatchObject({ code: 100501 });
  });

  it('a handler that throws answers 400 and is reported; AlinkHandlerError answers with its own code', async () => {
    const emulator = await start();
    const device = await connect(emulator);
    const errors = recordErrors(device);
    let fail: Error = new Error('disk is read-only');
    await onConfigPush(device, () => {
      throw fail;
    });
    expect(await emulator.pushConfig(productKey, deviceName, CONFIG)).toMatchObject({ code: 400 });
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ code: 'handler-failed' });
    fail = new AlinkHandlerError(100201, 'config rejected');
    expect(await emulator.pushConfig(productKey, deviceName)).toMatchObject({ code: 100201, message: 'config rejected' });
    expect(errors).toHaveLength(1);
  });

  it('a push that cannot be read is answered 460 and reported; a get reply with an error code or bad data fails typed', async () => {
    const emulator = await start({ autoReplyServices: false });
    const device = await connect(emulator);
    const errors = recordErrors(device);
    await onConfigPush(device, () => {});
    const pushReply = nextPublish(emulator, serviceTopic('config-push', LAMP, { reply: true }));
    await emulator.publish(serviceTopic('config-push', LAMP), JSON.stringify({ id: '9', version: '1.0', method: 'thing.config.push', params: { configId: 'x' } }), 1);
    expect(await pushReply).toMatchObject({ id: '9', code: 460 });
    expect(errors[0]).toMatchObject({ code: 'malformed-request' });

    const getTopic = serviceTopic('config-get', LAMP);
    const replyTopic = serviceTopic('config-get', LAMP, { reply: true });
    let sent = nextPublish(emulator, getTopic);
    let result = rejection(getConfig(device));
    await emulator.publish(replyTopic, buildAlinkReply({ id: (await sent)['id'] as string, code: 6713, message: 'no config' }), 1);
    const refused = await result;
    expect(refused).toBeInstanceOf(AlinkReplyError);
    expect(refused).toMatchObject({ code: 6713, replyMessage: 'no config' });

    sent = nextPublish(emulator, getTopic);
    result = rejection(getConfig(device));
    const plain = { ...CONFIG, url: 'http://example.com/cfg' };
    await emulator.publish(replyTopic, buildAlinkReply({ id: (await sent)['id'] as string, data: plain }), 1);
    const malformed = await result;
    expect(malformed).toMatchObject({ code: 'malformed-reply' });
    expect(malformed.message).toContain('https');
  });

  it('setConfig refuses a description the platform would not send', async () => {
    const emulator = await start();
    expect(() => emulator.setConfig(productKey, { ...CONFIG, sign: 'abc' })).toThrow(expect.objectContaining({ field: 'config.sign' }) as Error);
    await expect(emulator.pushConfig(productKey, deviceName)).rejects.toMatchObject({ code: 'not-connected' });
  });
});
