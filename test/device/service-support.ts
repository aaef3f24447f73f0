/** Devices connected to the stand-in for the device-service tests, and ways to watch the wire. */
import { afterEach } from 'vitest';
import { connectDevice } from '../../src/device/index.js';
import type { ConnectDeviceOptions, Device } from '../../src/device/index.js';
import type { Emulator, EmulatorDevice, PacketEvent } from '../../src/emulator/index.js';
import { LAMP } from '../emulator/fixtures.js';

const devices: Device[] = [];
afterEach(async () => {
  await Promise.all(devices.splice(0).map((device) => device.end({ force: true })));
});

/** Connects `device` to `emulator` over TLS on [::1], trusting the emulator's CA; ended after the test. */
export async function connect(emulator: Emulator, overrides: Partial<ConnectDeviceOptions> = {}, device: EmulatorDevice = LAMP): Promise<Device> {
  const handle = await connectDevice({ ...device, endpoint: { host: '::1', port: emulator.port }, ca: emulator.ca, ...overrides });
  devices.push(handle);
  return handle;
}

/** The next PUBLISH a device sends on `topic`, read as JSON at once (the payload is a view into the frame). */
export function nextPublish(emulator: Emulator, topic: string): Promise<Record<string, unknown>> {
  return new Promise((resolve) => {
    const listener = ({ direction, packet }: PacketEvent): void => {
      if (direction !== 'in' || packet.type !== 'publish' || packet.topic !== topic) return;
      emulator.off('packet', listener);
      resolve(JSON.parse(Buffer.from(packet.payload).toString('utf8')) as Record<string, unknown>);
    };
    emulator.on('packet', listener);
  });
}

/** Every PUBLISH a device sends from now on, by topic. */
export function recordPublishes(emulator: Emulator): string[] {
  const topics: string[] = [];
  emulator.on('packet', ({ direction, packet }) => {
    if (direction === 'in' && packet.type === 'publish') topics.push(packet.topic);
  });
  return topics;
}

/** Every error the device reports from now on. */
export function recordErrors(device: Device): Error[] {
  const errors: Error[] = [];
  device.on('error', (error) => errors.push(error));
  return errors;
}

/** Settles when `promise` does, recording how, so a test can check that it has not settled yet. */
export function watch<T>(promise: Promise<T>): { settled: boolean; result: Promise<T> } {
  const state = { settled: false, result: promise };
  promise.then(
    () => (state.settled = true),
    () => (state.settled = true),
  );
  return state;
}

/** Lets pending promise callbacks and socket events run. */
export const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** The error a promise rejects with (failing the test when it resolves). */
export async function rejection(promise: Promise<unknown>): Promise<Error> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (error: unknown) => error as Error,
  );
}
