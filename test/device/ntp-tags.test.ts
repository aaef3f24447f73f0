/**
 * syncTime and the tag requests against the stand-in over TLS on [::1]: what goes on the wire,
 * what comes back, and the faults (no answer, an error code, an answer that is not JSON).
 */
import { describe, expect, it } from 'vitest';
import { buildAlinkReply } from '../../src/aliyun/index.js';
import { serviceTopic } from '../../src/aliyun/service-topics.js';
import { AlinkReplyError, DeviceError, deleteTags, syncTime, updateTags } from '../../src/device/index.js';
import { ConfigurationError } from '../../src/shared/errors.js';
import { MAX_DEVICE_TAGS } from '../../src/emulator/index.js';
import { VirtualClock } from '../support/virtual-clock.js';
import { emulatorPerTest, LAMP } from '../emulator/fixtures.js';
import { connect, nextPublish, recordErrors, recordPublishes, rejection, tick, watch } from './service-support.js';

const start = emulatorPerTest();
const ntpRequest = serviceTopic('ntp-request', LAMP);
const ntpResponse = serviceTopic('ntp-response', LAMP);

/** A clock that returns the given times in turn, then keeps the last. */
function times(...values: number[]): () => number {
  let i = 0;
  return () => values[Math.min(i++, values.length - 1)]!;
}

describe('syncTime', () => {
  it('sends the device time, and computes time, offset and round trip from the three times of the answer', async () => {
    const emulator = await start({ wallClock: times(5100, 5102) });
    const device = await connect(emulator);
    const request = nextPublish(emulator, ntpRequest);
    const sync = await syncTime(device, { now: times(1000, 1204) });
    expect(await request).toEqual({ deviceSendTime: '1000' });
    expect(sync).toEqual({
      time: 5203,
      offset: 3999,
      roundTrip: 202,
      deviceSendTime: 1000,
      serverRecvTime: 5100,
      serverSendTime: 5102,
      deviceRecvTime: 1204,
    });
  });

  it('syncs against the real clocks too, subscribing once', async () => {
    const emulator = await start({ wallClock: () => Date.now() + 60_000 });
    const device = await connect(emulator);
    const subscribes: string[] = [];
    emulator.on('packet', ({ direction, packet }) => {
      if (direction === 'in' && packet.type === 'subscribe') subscribes.push(...packet.subscriptions.map((s) => s.topicFilter));
    });
    const first = await syncTime(device);
    const second = await syncTime(device);
    for (const sync of [first, second]) {
      expect(sync.offset).toBeGreaterThan(59_000);
      expect(sync.offset).toBeLessThan(61_000);
      expect(sync.roundTrip).toBeGreaterThanOrEqual(0);
    }
    expect(subscribes).toEqual([ntpResponse]);
  });

  it('times out in virtual time, at the timeout and not before', async () => {
    const emulator = await start({ autoReplyServices: false });
    const clock = new VirtualClock();
    const device = await connect(emulator, { clock, replyTimeout: 4000 });
    const request = nextPublish(emulator, ntpRequest);
    const sync = watch(syncTime(device));
    await request;
    clock.advance(3999);
    await tick();
    expect(sync.settled).toBe(false);
    clock.advance(1);
    const error = await rejection(sync.result);
    expect(error).toBeInstanceOf(DeviceError);
    expect(error).toMatchObject({ code: 'reply-timeout' });
    expect(error.message).toContain('4000 ms');
  });

  it('ignores an answer echoing another send time; fails fast on one that is not JSON', async () => {
    const emulator = await start({ autoReplyServices: false });
    const clock = new VirtualClock();
    const device = await connect(emulator, { clock });
    const request = nextPublish(emulator, ntpRequest);
    const sync = watch(syncTime(device, { now: () => 1000, timeout: 5000 }));
    await request;
    await emulator.publish(ntpResponse, JSON.stringify({ deviceSendTime: '999', serverRecvTime: '1', serverSendTime: '2' }), 1);
    await tick();
    expect(sync.settled).toBe(false);
    await emulator.publish(ntpResponse, '{"deviceSendTime":"1000", nonsense', 1);
    const error = await rejection(sync.result);
    expect(error).toMatchObject({ name: 'DeviceError', code: 'malformed-reply' });
    expect(error.message).toContain('not JSON');
  });

  it('refuses an answer whose server times are impossible', async () => {
    const emulator = await start({ autoReplyServices: false });
    const device = await connect(emulator);
    const request = nextPublish(emulator, ntpRequest);
    const sync = rejection(syncTime(device, { now: () => 1000 }));
    await request;
    await emulator.publish(ntpResponse, JSON.stringify({ deviceSendTime: '1000', serverRecvTime: '5000', serverSendTime: '4000' }), 1);
    const error = await sync;
    expect(error).toMatchObject({ code: 'malformed-reply' });
    expect(error.message).toContain('serverSendTime');
  });

  it('checks its options before anything is sent', async () => {
    const emulator = await start();
    const device = await connect(emulator);
    const sent = recordPublishes(emulator);
    await expect(syncTime(device, { timeout: 0 })).rejects.toMatchObject({ field: 'timeout' });
    await expect(syncTime(device, { now: 5 as never })).rejects.toMatchObject({ field: 'now' });
    await expect(syncTime(device, { now: () => -1 })).rejects.toMatchObject({ field: 'now' });
    await expect(syncTime({} as never)).rejects.toBeInstanceOf(ConfigurationError);
    await syncTime(device);
    expect(sent).toEqual([ntpRequest]);
  });

  it('fails what waits when the device ends, and refuses to send after', async () => {
    const emulator = await start({ autoReplyServices: false });
    const device = await connect(emulator);
    const request = nextPublish(emulator, ntpRequest);
    const sync = rejection(syncTime(device));
    await request;
    await device.end({ force: true });
    expect(await sync).toMatchObject({ code: 'device-ended' });
    expect(await rejection(syncTime(device))).toMatchObject({ code: 'device-ended' });
  });
});

describe('updateTags and deleteTags', () => {
  const update = serviceTopic('tags-update', LAMP);
  const remove = serviceTopic('tags-delete', LAMP);

  it('sends thing.deviceinfo.update and .delete and resolves with the reply; the stand-in keeps the tags', async () => {
    const emulator = await start();
    const device = await connect(emulator);
    const sent = nextPublish(emulator, update);
    const reply = await updateTags(device, { floor: '3', room: 'B-301', label: '三楼' });
    expect(await sent).toMatchObject({
      version: '1.0',
      method: 'thing.deviceinfo.update',
      params: [
        { attrKey: 'floor', attrValue: '3' },
        { attrKey: 'room', attrValue: 'B-301' },
        { attrKey: 'label', attrValue: '三楼' },
      ],
    });
    expect(reply).toMatchObject({ code: 200 });
    expect(emulator.tags(LAMP.productKey, LAMP.deviceName)).toEqual({ floor: '3', room: 'B-301', label: '三楼' });
    const deleted = nextPublish(emulator, remove);
    await deleteTags(device, ['room', 'absent']);
    expect(await deleted).toMatchObject({ method: 'thing.deviceinfo.delete', params: [{ attrKey: 'room' }, { attrKey: 'absent' }] });
    expect(emulator.tags(LAMP.productKey, LAMP.deviceName)).toEqual({ floor: '3', label: '三楼' });
  });

  it('refuses keys and values the platform refuses before anything is sent', async () => {
    const emulator = await start();
    const device = await connect(emulator);
    const sent = recordPublishes(emulator);
    const cases: [Promise<unknown>, string][] = [
      [updateTags(device, {}), 'tags'],
      [updateTags(device, { 'a b': '1' }), 'tags.a b'],
      [updateTags(device, { k: 'x'.repeat(129) }), 'tags.k'],
      [updateTags(device, { k: '字'.repeat(65) }), 'tags.k'],
      [updateTags(device, { k: 'a/b' }), 'tags.k'],
      [deleteTags(device, []), 'tags'],
      [deleteTags(device, ['ok', '']), 'keys[1]'],
      [deleteTags(device, 'floor' as never), 'keys'],
      [updateTags(device, { k: 'v' }, { timeout: -1 }), 'timeout'],
    ];
    for (const [attempt, field] of cases) {
      const error = await rejection(attempt);
      expect(error, field).toBeInstanceOf(ConfigurationError);
      expect(error, field).toMatchObject({ field });
    }
    await updateTags(device, { ok: '1' });
    expect(sent).toEqual([update]);
  });

  it('a reply with an error code: AlinkReplyError with the platform’s code and message', async () => {
    const emulator = await start({ autoReplyServices: false });
    const device = await connect(emulator);
    const sent = nextPublish(emulator, update);
    const result = rejection(updateTags(device, { floor: '3' }));
    const { id } = await sent;
    await emulator.publish(`${update}_reply`, buildAlinkReply({ id: id as string, code: 6100, message: 'device not found' }), 1);
    const error = await result;
    expect(error).toBeInstanceOf(AlinkReplyError);
    expect(error).toMatchObject({ code: 6100, replyMessage: 'device not found', method: 'thing.deviceinfo.update', id });
  });

  it('the stand-in’s own refusal: more tags than a device may hold is 460, and none is kept', async () => {
    const emulator = await start();
    const device = await connect(emulator);
    const many = Object.fromEntries(Array.from({ length: MAX_DEVICE_TAGS }, (_, i) => [`k${i}`, 'v']));
    await updateTags(device, many);
    await updateTags(device, { k0: 'overwritten' }); // an existing key is not a new tag
    const error = await rejection(updateTags(device, { one: 'more', k1: 'changed' }));
    expect(error).toMatchObject({ name: 'AlinkReplyError', code: 460 });
    expect(error.message).toContain(`${MAX_DEVICE_TAGS} per device`);
    const tags = emulator.tags(LAMP.productKey, LAMP.deviceName);
    expect(Object.keys(tags)).toHaveLength(MAX_DEVICE_TAGS);
    expect(tags).toMatchObject({ k0: 'overwritten', k1: 'v' });
  });

  it('a reply that is not JSON fails its request; one naming its id but not a reply fails that one', async () => {
    const emulator = await start({ autoReplyServices: false });
    const device = await connect(emulator);
    const errors = recordErrors(device);
    const sent = nextPublish(emulator, update);
    const result = rejection(updateTags(device, { floor: '3' }));
    await sent;
    await emulator.publish(`${update}_reply`, '<html>502</html>', 1);
    expect(await result).toMatchObject({ code: 'malformed-reply' });

    const sentAgain = nextPublish(emulator, update);
    const again = rejection(updateTags(device, { floor: '4' }));
    const { id } = await sentAgain;
    await emulator.publish(`${update}_reply`, JSON.stringify({ id, code: 'two hundred' }), 1);
    const error = await again;
    expect(error).toMatchObject({ code: 'malformed-reply' });
    expect(error.message).toContain(`id ${id as string}`);
    expect(errors).toEqual([]);
  });

  it('with two requests waiting, an unreadable reply without an id fails neither, and is reported', async () => {
    const emulator = await start({ autoReplyServices: false });
    const clock = new VirtualClock();
    const device = await connect(emulator, { clock });
    const errors = recordErrors(device);
    const first = nextPublish(emulator, update);
    const a = watch(updateTags(device, { a: '1' }));
    const { id: idA } = await first;
    const second = nextPublish(emulator, update);
    const b = watch(updateTags(device, { b: '1' }));
    const { id: idB } = await second;
    await emulator.publish(`${update}_reply`, 'garbage', 1);
    await tick();
    expect(a.settled || b.settled).toBe(false);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ code: 'malformed-reply' });
    await emulator.publish(`${update}_reply`, buildAlinkReply({ id: idB as string }), 1);
    await emulator.publish(`${update}_reply`, buildAlinkReply({ id: idA as string }), 1);
    expect(await a.result).toMatchObject({ id: idA, code: 200 });
    expect(await b.result).toMatchObject({ id: idB, code: 200 });
  });
});
