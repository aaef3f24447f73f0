/** The devices every emulator test registers, and an emulator per test that is always closed. */
import { afterEach } from 'vitest';
import { startEmulator } from '../../src/emulator/index.js';
import type { Emulator, EmulatorDevice, EmulatorOptions } from '../../src/emulator/index.js';

/** Two devices of one product. */
export const LAMP: EmulatorDevice = Object.freeze({ productKey: 'a1TestProduct', deviceName: 'lamp', deviceSecret: 'lamp-secret' });
export const SENSOR: EmulatorDevice = Object.freeze({ productKey: 'a1TestProduct', deviceName: 'sensor', deviceSecret: 'sensor-secret' });

/**
 * Returns a function that starts an emulator knowing LAMP and SENSOR (options override), and
 * closes every emulator it started after each test of the calling file.
 */
export function emulatorPerTest(): (options?: Partial<EmulatorOptions>) => Promise<Emulator> {
  const started: Emulator[] = [];
  afterEach(async () => {
    await Promise.all(started.splice(0).map((emulator) => emulator.close()));
  });
  return async (options = {}) => {
    const emulator = await startEmulator({ devices: [LAMP, SENSOR], ...options });
    started.push(emulator);
    return emulator;
  };
}

/**
 * Resolves once `condition()` holds, checking after each turn of the event loop: for a state the
 * emulator reaches on its own (a socket accepted) and announces to nobody. Fails after `timeoutMs`.
 */
export async function eventually(condition: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const started = Date.now();
  while (!condition()) {
    if (Date.now() - started > timeoutMs) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}
