/**
 * A gateway, its sub-devices and a stand-in per test that knows them, over TLS on [::1].
 */
import { afterEach } from 'vitest';
import { connectGateway } from '../../src/device/index.js';
import type { ConnectDeviceOptions, Gateway, GatewayOptions } from '../../src/device/index.js';
import { startEmulator } from '../../src/emulator/index.js';
import type { Emulator, EmulatorDevice, EmulatorOptions, PacketEvent } from '../../src/emulator/index.js';

export const GATEWAY: EmulatorDevice = Object.freeze({ productKey: 'a1GatewayPk', deviceName: 'gw1', deviceSecret: 'gw1-secret' });
export const OTHER_GATEWAY: EmulatorDevice = Object.freeze({ productKey: 'a1GatewayPk', deviceName: 'gw2', deviceSecret: 'gw2-secret' });

/** Sub-device `i` of product a1MeterPk: meter1, meter2, ... */
export function meter(i: number): EmulatorDevice {
  return Object.freeze({ productKey: 'a1MeterPk', deviceName: `meter${i}`, deviceSecret: `meter${i}-secret` });
}

/** Sub-devices of a second product. */
export function tag(i: number): EmulatorDevice {
  return Object.freeze({ productKey: 'a1TagPk', deviceName: `tag${i}`, deviceSecret: `tag${i}-secret` });
}

export const METERS = [1, 2, 3].map(meter);

/** `{ productKey, deviceName }` of a device. */
export function id(device: { productKey: string; deviceName: string }): { productKey: string; deviceName: string } {
  return { productKey: device.productKey, deviceName: device.deviceName };
}

export interface Rig {
  readonly emulator: Emulator;
  connect(options?: Partial<ConnectDeviceOptions>, gatewayOptions?: GatewayOptions, device?: EmulatorDevice): Promise<Gateway>;
}

/**
 * Returns a function that starts a stand-in knowing the gateways, METERS and `extra` devices
 * (with the meters in GATEWAY's topology unless `topology` says otherwise) and connects gateways
 * to it; everything is ended after each test of the calling file.
 */
export function gatewayRig(): (options?: Partial<EmulatorOptions> & { extra?: EmulatorDevice[]; emptyTopology?: boolean }) => Promise<Rig> {
  const emulators: Emulator[] = [];
  const gateways: Gateway[] = [];
  afterEach(async () => {
    await Promise.all(gateways.splice(0).map((gateway) => gateway.end({ force: true })));
    await Promise.all(emulators.splice(0).map((emulator) => emulator.close()));
  });
  return async (options = {}) => {
    const { extra = [], emptyTopology = false, ...rest } = options;
    const devices = [GATEWAY, OTHER_GATEWAY, ...METERS, ...extra];
    const topology = emptyTopology ? [] : [{ gateway: id(GATEWAY), subDevices: METERS.map(id) }];
    const emulator = await startEmulator({ devices, topology, ...rest });
    emulators.push(emulator);
    return {
      emulator,
      async connect(overrides = {}, gatewayOptions = {}, device = GATEWAY) {
        const gateway = await connectGateway({ ...device, endpoint: { host: '::1', port: emulator.port }, ca: emulator.ca, ...overrides }, gatewayOptions);
        gateways.push(gateway);
        return gateway;
      },
    };
  };
}

/** Every PUBLISH from devices to the stand-in, as `{ topic, json }`, from now on. */
export function recordUp(emulator: Emulator): Array<{ topic: string; qos: number; json: Record<string, unknown> }> {
  const seen: Array<{ topic: string; qos: number; json: Record<string, unknown> }> = [];
  emulator.on('packet', ({ direction, packet }: PacketEvent) => {
    if (direction !== 'in' || packet.type !== 'publish') return;
    let json: Record<string, unknown> = {};
    try {
      json = JSON.parse(Buffer.from(packet.payload).toString('utf8')) as Record<string, unknown>;
    } catch {
      // not JSON: recorded with an empty object
    }
    seen.push({ topic: packet.topic, qos: packet.qos, json });
  });
  return seen;
}

/** Every SUBSCRIBE filter devices send, from now on. */
export function recordSubscriptions(emulator: Emulator): string[][] {
  const seen: string[][] = [];
  emulator.on('packet', ({ direction, packet }: PacketEvent) => {
    if (direction === 'in' && packet.type === 'subscribe') seen.push(packet.subscriptions.map((s) => s.topicFilter));
  });
  return seen;
}

/** Resolves with the next emission of `event` on `emitter`. */
export function next<T extends unknown[]>(emitter: { once(event: string, listener: (...args: T) => void): unknown }, event: string): Promise<T> {
  return new Promise((resolve) => emitter.once(event, (...args: T) => resolve(args)));
}
