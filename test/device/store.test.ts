/**
 * connectDevice passes the `store` option to its client: what a previous process of the same
 * device left in a file store goes out when the device connects, before anything new, although
 * the signed client id (its timestamp) differs from one process to the next.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { AlinkTopics } from '../../src/aliyun/index.js';
import { connectDevice } from '../../src/device/index.js';
import type { Device } from '../../src/device/index.js';
import { fileStore } from '../../src/store/index.js';
import { emulatorPerTest, LAMP } from '../emulator/fixtures.js';

const start = emulatorPerTest();
const dirs: string[] = [];
const devices: Device[] = [];
afterEach(async () => {
  await Promise.all(devices.splice(0).map((device) => device.end({ force: true })));
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

it('a message a previous process of the device stored goes out first when the device connects', async () => {
  const emulator = await start();
  const dir = mkdtempSync(join(tmpdir(), 'aliot-device-store-'));
  dirs.push(dir);
  const topic = new AlinkTopics(LAMP).propertyPost();
  // What a previous process left: stored, never sent (its client id carried another timestamp).
  const previous = fileStore(dir);
  previous.open(`${LAMP.productKey}.${LAMP.deviceName}`, { writeFailed: () => {} });
  previous.add({ topic, payload: Buffer.from('{"id":"41","version":"1.0","params":{"LightSwitch":1},"method":"thing.event.property.post"}'), retain: false });
  await previous.close();

  const published: string[] = []; // the ids, read at once (the payload is a view into the frame)
  emulator.on('packet', ({ direction, packet }) => {
    if (direction === 'in' && packet.type === 'publish') published.push(JSON.parse(Buffer.from(packet.payload).toString()).id);
  });
  const store = fileStore(dir);
  const device = await connectDevice({ ...LAMP, endpoint: { host: '::1', port: emulator.port }, ca: emulator.ca, clean: false, store, subscribe: false });
  devices.push(device);
  expect(device.client.options.store).toBe(store);
  await device.client.publish(topic, '{"id":"42","version":"1.0","params":{"LightSwitch":0},"method":"thing.event.property.post"}', { qos: 1 });
  expect(published).toEqual(['41', '42']);
  expect(device.client.restoredCount).toBe(0);
  expect(store.stats().messages).toBe(0);
});
