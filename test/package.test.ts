/**
 * The published package: what `npm pack` ships, and that the bundles in it are the library.
 * `npm test` builds first, so dist/ is the build of this very source.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as source from '../src/index.js';
import * as emulatorSource from '../src/emulator/index.js';

const root = new URL('../', import.meta.url);
const pkg = JSON.parse(readFileSync(new URL('package.json', root), 'utf8'));

interface PackedFile {
  path: string;
  size: number;
}
const packed = JSON.parse(
  execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8' }),
)[0] as { size: number; unpackedSize: number; files: PackedFile[] };
const paths = packed.files.map((f) => f.path);

describe('npm pack', () => {
  it('ships the bundles, their types, the CA bundles, README and license, and nothing else', () => {
    for (const p of paths) {
      expect(
        /^dist\/pkg\/[\w-]+\.js$/.test(p) ||
          /^dist\/.+\.d\.ts$/.test(p) ||
          /^certs\/(aliyun-iot-root-ca\.pem|loopback\/(ca\.pem|server\.pem|server\.key|README\.md))$/.test(p) ||
          ['README.md', 'LICENSE', 'package.json'].includes(p),
        p,
      ).toBe(true);
    }
    expect(paths).toContain('dist/pkg/index.js');
    expect(paths).toContain('dist/pkg/emulator.js');
    expect(paths).toContain('dist/index.d.ts');
    expect(paths).toContain('certs/aliyun-iot-root-ca.pem');
    expect(paths.some((p) => p.startsWith('dist/cli/'))).toBe(false);
  });

  it('stays small for gateways with little room: under 160 KB packed, 512 KB unpacked', () => {
    expect(packed.size).toBeLessThan(160 * 1024);
    expect(packed.unpackedSize).toBeLessThan(512 * 1024);
  });

  it('has no runtime dependencies and points its entry points at the bundles', () => {
    expect(pkg.dependencies ?? {}).toEqual({});
    expect(pkg.exports['.'].default).toBe('./dist/pkg/index.js');
    expect(pkg.exports['./emulator'].default).toBe('./dist/pkg/emulator.js');
    for (const entry of [pkg.exports['.'], pkg.exports['./emulator']]) {
      expect(paths).toContain(entry.types.slice(2));
      expect(paths).toContain(entry.default.slice(2));
    }
  });
});

describe('the bundles', () => {
  it('export exactly what the source entry points export', async () => {
    const bundle = await import('../dist/pkg/index.js' as string);
    expect(Object.keys(bundle).sort()).toEqual(Object.keys(source).sort());
    const emulator = await import('../dist/pkg/emulator.js' as string);
    expect(Object.keys(emulator).sort()).toEqual(Object.keys(emulatorSource).sort());
  });

  it('run a whole session: the bundled client against the bundled stand-in over TLS on [::1]', async () => {
    const lib = await import('../dist/pkg/index.js' as string);
    const { startEmulator } = await import('../dist/pkg/emulator.js' as string);
    const device = { productKey: 'a1B2c3D4e5F', deviceName: 'bundle', deviceSecret: 'bundle-secret' };
    const emulator = await startEmulator({ devices: [device] });
    try {
      const client = new lib.MqttClient({
        host: '::1',
        port: emulator.port,
        ca: emulator.ca,
        family: 6,
        ...lib.signCredentials({ ...device, timestamp: 1 }),
        keepalive: 60,
      });
      await client.connect();
      const reply = `/sys/${device.productKey}/${device.deviceName}/thing/event/property/post_reply`;
      await client.subscribe(reply, { qos: 1 });
      const got = new Promise<string>((resolve) => client.once('message', (_t: string, p: Uint8Array) => resolve(Buffer.from(p).toString())));
      await client.publish(
        `/sys/${device.productKey}/${device.deviceName}/thing/event/property/post`,
        JSON.stringify({ id: '7', version: '1.0', params: { t: 1 }, method: 'thing.event.property.post' }),
        { qos: 1 },
      );
      expect(JSON.parse(await got)).toMatchObject({ id: '7', code: 200 });
      expect(await client.end()).toEqual({ unacknowledged: [] });
    } finally {
      await emulator.close();
    }
  });
});
