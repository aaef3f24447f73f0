/**
 * The published package: what `npm pack` ships, and that the bundles in it are the library.
 * `npm test` builds first, so dist/ is the build of this very source.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { fileURLToPath } from 'node:url';
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
  it('ships the bundles, the CLI, their types, the CA bundles, README and license, and nothing else', () => {
    for (const p of paths) {
      expect(
        /^dist\/pkg\/[\w-]+\.js$/.test(p) ||
          /^dist\/types\/.+\.d\.ts$/.test(p) ||
          // The stand-in (aliot-mqtt/emulator, aliot demo) serves TLS with the public loopback test
          // certificate by default, so its key ships; its README says it is public. So does its
          // throwaway device CA's key, which X.509 mode issues device certificates with.
          /^certs\/(aliyun-iot-root-ca\.pem|loopback\/(ca\.pem|server\.pem|server\.key|README\.md))$/.test(p) ||
          /^certs\/emulator\/(device-ca\.pem|device-ca\.key|README\.md)$/.test(p) ||
          // The page `aliot web` serves: its own files and the explainer bundled for the browser.
          /^dist\/web\/page\/[\w-]+\.(html|css|js|svg)$/.test(p) ||
          ['README.md', 'LICENSE', 'package.json'].includes(p),
        p,
      ).toBe(true);
    }
    expect(paths).toContain('dist/pkg/index.js');
    expect(paths).toContain('dist/pkg/emulator.js');
    expect(paths).toContain(pkg.bin.aliot);
    expect(paths).toContain('dist/types/index.d.ts');
    expect(paths).toContain('certs/aliyun-iot-root-ca.pem');
    expect(paths).toContain('dist/web/page/index.html');
    expect(paths).toContain('dist/web/page/mqtt-explain.js');
    expect(paths.some((p) => p.startsWith('dist/cli/'))).toBe(false);
  });

  it('ships every declaration the entry points reach, and none they do not', () => {
    const declarations = paths.filter((p) => p.endsWith('.d.ts'));
    const reached = new Set<string>();
    const reach = (path: string): void => {
      if (reached.has(path)) return;
      reached.add(path);
      expect(declarations, `a declaration refers to ${path}`).toContain(path);
      const text = readFileSync(new URL(path, root), 'utf8');
      for (const [, specifier] of text.matchAll(/(?:from|import\()\s*['"](\.{1,2}\/[^'"]+)\.js['"]/g)) {
        reach(posix.join(posix.dirname(path), `${specifier!}.d.ts`));
      }
    };
    for (const entry of [pkg.exports['.'].types, pkg.exports['./emulator'].types]) reach(entry.slice(2));
    expect([...reached].sort()).toEqual(declarations.sort());
  });

  // `npm run size` breaks these figures down; the README quotes them. The budget grows only with
  // a feature: 150/480 kB before the durable outbox store (about 12 kB packed with its types);
  // 165/540 kB before the platform's service formats, dynamic registration and the OTA download
  // (about 33 kB packed with their types); 190/650 kB before client certificates, the platform's
  // X.509 mode and the stand-in's device CA (about 22 kB packed with their types, the CLI's flags
  // and the certificate issuing included), and before `aliot web`, whose page (111 kB of HTML, CSS
  // and JavaScript, half of it the explainer bundled for the browser) and server (38 kB in the CLI
  // bundle) add 45 kB packed, 149 kB unpacked; the durable store's client side (restored
  // messages, failed writes) and its README section about 3 kB packed, 10 kB unpacked; the gateway
  // (connectGateway, its sub-devices) and the stand-in's gateway cloud side about 26 kB packed,
  // 109 kB unpacked with their types; OTA end to end (createOta, the stand-in's OTA jobs and its
  // HTTPS server, aliot ota and the emulator's OTA flags) 284 -> 309 kB packed, 997 -> 1088 kB
  // unpacked, about 25 kB packed and 90 kB unpacked with their types; the device services (NTP,
  // shadow, remote configuration and its file, tags), dynamic registration over MQTT and token
  // connections, the stand-in's side of each (its registration endpoint and configuration files
  // included) and aliot register 309 -> 334 kB packed, 1088 -> 1194 kB unpacked: 70 kB of runtime
  // bundles, 26 kB of declarations, 10 kB in the CLI bundle; the stand-in's Clean Session 0
  // sessions and the gateway's split into modules about 6 kB packed, 23 kB unpacked; aliot demo
  // gateway (its flow and explanations, the trace and masking it shares with aliot demo) about
  // 7 kB packed, 24 kB unpacked, 22.5 KiB of it in the CLI bundle, none in the library's or the
  // stand-in's entry points (measured together: 348.4 kB packed, 1246.5 kB unpacked); the OTA
  // download through onread and the README's performance sections: 350.6 kB, 1252.7 kB.
  it('stays small for gateways with little room: under 355 kB packed, 1262 kB unpacked', () => {
    expect(packed.size).toBeLessThan(355_000);
    expect(packed.unpackedSize).toBeLessThan(1_262_000);
  });

  it('builds the code it ships in a fresh clone, where there is no dist/ yet (prepack)', () => {
    expect(pkg.scripts.prepack).toBe('npm run build');
    const clone = mkdtempSync(join(tmpdir(), 'aliot-pack-'));
    try {
      // The working tree's own files (tracked, or new and not ignored), without dist/ or node_modules.
      const files = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '-z'], { cwd: root, encoding: 'utf8' })
        .split('\0')
        .filter((f) => f !== '');
      for (const file of files) cpSync(fileURLToPath(new URL(file, root)), join(clone, file), { recursive: true });
      symlinkSync(fileURLToPath(new URL('node_modules', root)), join(clone, 'node_modules'), 'dir');
      // The build's own output shares npm's stdout, so the tarball is found by its name instead.
      execFileSync('npm', ['pack', '--pack-destination', clone], { cwd: clone, stdio: 'ignore' });
      const tarball = join(clone, `${pkg.name}-${pkg.version}.tgz`);
      const listed = execFileSync('tar', ['-tzf', tarball], { encoding: 'utf8' }).split('\n');
      for (const path of ['dist/pkg/index.js', 'dist/pkg/emulator.js', pkg.bin.aliot, 'dist/types/index.d.ts']) {
        expect(listed).toContain(`package/${path}`);
      }
    } finally {
      rmSync(clone, { recursive: true, force: true });
    }
  }, 60_000);

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
