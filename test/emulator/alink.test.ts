import { describe, expect, it } from 'vitest';
import { AlinkTopics, parseAlinkRequest } from '../../src/aliyun/index.js';
import type { PublishPacket } from '../../src/packet/index.js';
import { VirtualClock } from '../support/virtual-clock.js';
import { connected, subscribe, sync } from './raw-client.js';
import { emulatorPerTest, LAMP, SENSOR } from './fixtures.js';
import type { RawClient } from './raw-client.js';

const start = emulatorPerTest();

const topics = new AlinkTopics(LAMP);

function publish(topic: string, payload: string, qos: 0 | 1 = 0, packetId = 1): PublishPacket {
  return { type: 'publish', topic, payload: Buffer.from(payload), qos, retain: false, dup: false, ...(qos === 1 ? { packetId } : {}) };
}

const text = (packet: PublishPacket): string => Buffer.from(packet.payload).toString();

/** The next PUBLISH on `topic`, acknowledged if it is QoS 1 (others stay unread). */
async function receive(client: RawClient, topic: string): Promise<PublishPacket> {
  for (;;) {
    const packet = await client.next('publish');
    if (packet.qos === 1) client.send({ type: 'puback', packetId: packet.packetId! });
    if (packet.topic === topic) return packet;
  }
}

describe('property post', () => {
  it('is answered on post_reply with the same id, code 200 and empty data', async () => {
    const server = await start();
    const lamp = await connected(server, LAMP);
    await subscribe(lamp, 1, [topics.postReplyFilter(), 1]);
    lamp.send(publish(topics.propertyPost(), '{"id":"123","version":"1.0","params":{"LightSwitch":1},"method":"thing.event.property.post"}', 1));
    expect(await lamp.next('puback')).toEqual({ type: 'puback', packetId: 1 });
    const reply = await receive(lamp, topics.propertyPostReply());
    expect(text(reply)).toBe('{"id":"123","code":200,"data":{}}');
    expect(reply.qos).toBe(1);
  });

  it.each([
    ['not JSON', '{"id":"7",', '0'],
    ['a number id', '{"id":8,"params":{},"method":"thing.event.property.post"}', '8'],
    ['no method', '{"id":"9","params":{}}', '9'],
    ['another method', '{"id":"10","params":{},"method":"thing.service.property.set"}', '10'],
    ['params that are not an object', '{"id":"11","params":[1],"method":"thing.event.property.post"}', '11'],
    ['a JSON array', '[1,2]', '0'],
  ])('answers a post with %s with code 460 (request parameter error)', async (_, payload, id) => {
    const server = await start();
    const lamp = await connected(server, LAMP);
    await subscribe(lamp, 1, [topics.propertyPostReply(), 0]);
    lamp.send(publish(topics.propertyPost(), payload));
    const reply = JSON.parse(text(await receive(lamp, topics.propertyPostReply()))) as Record<string, unknown>;
    expect(reply).toMatchObject({ id, code: 460, data: {} });
    expect(reply['message']).toMatch(/^request parameter error/);
  });

  it('is not answered with autoReplyPropertyPost: false', async () => {
    const server = await start({ autoReplyPropertyPost: false });
    const lamp = await connected(server, LAMP);
    await subscribe(lamp, 1, [topics.propertyPostReply(), 0]);
    lamp.send(publish(topics.propertyPost(), '{"id":"1","params":{},"method":"thing.event.property.post"}'));
    await sync(lamp);
    expect(lamp.unread).toEqual([]);
  });

  it('is answered only for the device that posted, on its own topics', async () => {
    const server = await start();
    const sensor = await connected(server, SENSOR);
    await subscribe(sensor, 1, [topics.propertyPostReply(), 0]);
    // The sensor posting on the lamp's topic is routed like any publish, but is not the lamp's post.
    sensor.send(publish(topics.propertyPost(), '{"id":"1","params":{},"method":"thing.event.property.post"}'));
    await sync(sensor);
    expect(sensor.unread).toEqual([]);
  });
});
describe('event post', () => {
  it('is answered on its own post_reply with the same id and code 200', async () => {
    const server = await start();
    const lamp = await connected(server, LAMP);
    await subscribe(lamp, 1, [topics.postReplyFilter(), 1]);
    lamp.send(publish(topics.eventPost('Overheat'), '{"id":"31","version":"1.0","params":{"value":{"T":90}},"method":"thing.event.Overheat.post"}'));
    const reply = await receive(lamp, topics.eventPostReply('Overheat'));
    expect(text(reply)).toBe('{"id":"31","code":200,"data":{}}');
  });

  it('answers a post whose method names another event with code 460', async () => {
    const server = await start();
    const lamp = await connected(server, LAMP);
    await subscribe(lamp, 1, [topics.eventPostReply('Overheat'), 0]);
    lamp.send(publish(topics.eventPost('Overheat'), '{"id":"32","params":{},"method":"thing.event.Alarm.post"}'));
    const reply = JSON.parse(text(await receive(lamp, topics.eventPostReply('Overheat')))) as Record<string, unknown>;
    expect(reply).toMatchObject({ id: '32', code: 460 });
  });

  it('is not answered with autoReplyEventPost: false', async () => {
    const server = await start({ autoReplyEventPost: false });
    const lamp = await connected(server, LAMP);
    await subscribe(lamp, 1, [topics.eventPostReply('Overheat'), 0]);
    lamp.send(publish(topics.eventPost('Overheat'), '{"id":"1","params":{},"method":"thing.event.Overheat.post"}'));
    await sync(lamp);
    expect(lamp.unread).toEqual([]);
  });
});


describe('requests from the cloud', () => {
  it('sendPropertySet publishes thing.service.property.set and resolves with the reply of the same id', async () => {
    const server = await start();
    const lamp = await connected(server, LAMP);
    await subscribe(lamp, 1, [topics.serviceFilter(), 1]);
    const replied = server.sendPropertySet(LAMP.productKey, LAMP.deviceName, { LightSwitch: 1 });
    const request = parseAlinkRequest((await receive(lamp, topics.propertySet())).payload);
    expect(request).toMatchObject({ version: '1.0', method: 'thing.service.property.set', params: { LightSwitch: 1 } });
    lamp.send(publish(topics.propertySetReply(), JSON.stringify({ id: request.id, code: 200, data: {} })));
    expect(await replied).toEqual({ id: request.id, code: 200, data: {} });
  });

  it('callService publishes thing.service.{identifier} and resolves with its _reply, whatever its code', async () => {
    const server = await start();
    const lamp = await connected(server, LAMP);
    await subscribe(lamp, 1, [topics.serviceCall('reboot'), 0]);
    const replied = server.callService(LAMP.productKey, LAMP.deviceName, 'reboot', { delay: 5 });
    const request = parseAlinkRequest((await receive(lamp, topics.serviceCall('reboot'))).payload);
    expect(request).toMatchObject({ method: 'thing.service.reboot', params: { delay: 5 } });
    // A reply to another id, and one on another device's topic, answer nothing.
    lamp.send(publish(topics.serviceCallReply('reboot'), JSON.stringify({ id: `${request.id}0`, code: 200, data: {} })));
    lamp.send(publish(new AlinkTopics(SENSOR).serviceCallReply('reboot'), JSON.stringify({ id: request.id, code: 200 })));
    lamp.send(publish(topics.serviceCallReply('reboot'), '{not json'));
    lamp.send(publish(topics.serviceCallReply('reboot'), JSON.stringify({ id: request.id, code: 9201, data: { busy: true }, message: 'busy' })));
    expect(await replied).toEqual({ id: request.id, code: 9201, data: { busy: true }, message: 'busy' });
  });

  it('gives each request a fresh id', async () => {
    const server = await start();
    const lamp = await connected(server, LAMP);
    await subscribe(lamp, 1, [topics.serviceFilter(), 0]);
    const first = server.sendPropertySet(LAMP.productKey, LAMP.deviceName, { a: 1 });
    const second = server.sendPropertySet(LAMP.productKey, LAMP.deviceName, { a: 2 });
    const ids = [];
    for (let i = 0; i < 2; i++) ids.push(parseAlinkRequest((await receive(lamp, topics.propertySet())).payload).id);
    expect(new Set(ids).size).toBe(2);
    // Answered in the opposite order, each still reaches its own request.
    lamp.send(publish(topics.propertySetReply(), JSON.stringify({ id: ids[1], code: 200, data: { n: 2 } })));
    lamp.send(publish(topics.propertySetReply(), JSON.stringify({ id: ids[0], code: 200, data: { n: 1 } })));
    expect((await first).data).toEqual({ n: 1 });
    expect((await second).data).toEqual({ n: 2 });
  });

  it('rrpc publishes on rrpc/request/{messageId} and resolves with the payload of rrpc/response/{messageId}', async () => {
    const server = await start();
    const lamp = await connected(server, LAMP);
    await subscribe(lamp, 1, [topics.rrpcRequestFilter(), 1]);
    const answered = server.rrpc(LAMP.productKey, LAMP.deviceName, 'ping');
    const request = await lamp.next('publish');
    const parsed = topics.parse(request.topic);
    expect(parsed?.kind).toBe('rrpc-request');
    expect(text(request)).toBe('ping');
    lamp.send({ type: 'puback', packetId: request.packetId! });
    const messageId = (parsed as { messageId: string }).messageId;
    lamp.send(publish(topics.rrpcResponse(messageId), 'pong', 1, 2));
    expect(Buffer.from(await answered).toString()).toBe('pong');
  });

  it('rejects with not-connected, and with not-subscribed when the device would never see the request', async () => {
    const server = await start();
    await expect(server.sendPropertySet(LAMP.productKey, LAMP.deviceName, {})).rejects.toMatchObject({ code: 'not-connected' });
    const lamp = await connected(server, LAMP);
    await subscribe(lamp, 1, [topics.serviceCall('reboot'), 0]);
    await expect(server.sendPropertySet(LAMP.productKey, LAMP.deviceName, {})).rejects.toMatchObject({ code: 'not-subscribed' });
    await expect(server.rrpc(LAMP.productKey, LAMP.deviceName, 'x')).rejects.toMatchObject({ code: 'not-subscribed' });
    await expect(server.callService(LAMP.productKey, LAMP.deviceName, 'reboot_reply', {})).rejects.toMatchObject({ field: 'identifier' });
  });

  it('rejects with reply-timeout when the device stays silent, in virtual time', async () => {
    const clock = new VirtualClock();
    const server = await start({ clock });
    const lamp = await connected(server, LAMP);
    await subscribe(lamp, 1, [topics.serviceFilter(), 0], [topics.rrpcRequestFilter(), 0]);
    let settled = false;
    const replied = server.callService(LAMP.productKey, LAMP.deviceName, 'reboot', {}, 5_000).finally(() => {
      settled = true;
    });
    const answered = server.rrpc(LAMP.productKey, LAMP.deviceName, 'x'); // default 10 s
    clock.advance(4_999);
    await sync(lamp);
    expect(settled).toBe(false);
    clock.advance(1);
    await expect(replied).rejects.toMatchObject({ name: 'EmulatorError', code: 'reply-timeout' });
    clock.advance(5_000);
    await expect(answered).rejects.toMatchObject({ code: 'reply-timeout' });
  });

  it('rejects with disconnected as soon as the device goes, and with closed when the emulator closes', async () => {
    const server = await start();
    const lamp = await connected(server, LAMP);
    const sensor = await connected(server, SENSOR);
    await subscribe(lamp, 1, [topics.serviceFilter(), 0]);
    await subscribe(sensor, 1, [new AlinkTopics(SENSOR).rrpcRequestFilter(), 0]);
    const replied = server.sendPropertySet(LAMP.productKey, LAMP.deviceName, {});
    await lamp.next('publish');
    lamp.destroy();
    await expect(replied).rejects.toMatchObject({ code: 'disconnected' });
    const answered = server.rrpc(SENSOR.productKey, SENSOR.deviceName, 'x');
    await sensor.next('publish');
    await server.close();
    await expect(answered).rejects.toMatchObject({ code: 'closed' });
    await expect(server.publish('/a', 'x')).rejects.toMatchObject({ code: 'closed' });
  });
});
