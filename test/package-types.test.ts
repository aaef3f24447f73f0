/**
 * The shipped types, as a strict TypeScript consumer meets them: the package as `npm pack` makes
 * it, installed beside @types/node, and a program that uses the public API type-checked with
 * `strict` and `skipLibCheck: false`, so that an error inside our `.d.ts` files fails too (a
 * class implementing an interface whose members `stripInternal` removed, for one). And the
 * mistakes the types must catch: QoS 2 on publish.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../', import.meta.url));
const tsc = join(root, 'node_modules/typescript/bin/tsc');
const work = mkdtempSync(join(tmpdir(), 'aliot-consumer-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Packs the package (dist/ is built by `npm test`) and installs it into a consumer project. */
function consumerProject(): string {
  const tarball = JSON.parse(
    execFileSync('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', work], { cwd: root, encoding: 'utf8' }),
  )[0].filename as string;
  const project = join(work, 'consumer');
  const installed = join(project, 'node_modules', 'aliot-mqtt');
  mkdirSync(installed, { recursive: true });
  execFileSync('tar', ['-xzf', join(work, tarball), '-C', installed, '--strip-components=1']);
  mkdirSync(join(project, 'node_modules', '@types'), { recursive: true });
  symlinkSync(join(root, 'node_modules/@types/node'), join(project, 'node_modules/@types/node'));
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', type: 'module', private: true }));
  writeFileSync(
    join(project, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        target: 'ES2022',
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        strict: true,
        skipLibCheck: false,
        noEmit: true,
        types: ['node'],
        exactOptionalPropertyTypes: true,
        noUncheckedIndexedAccess: true,
      },
      include: ['*.ts'],
    }),
  );
  return project;
}

function check(project: string, file: string, code: string): string {
  writeFileSync(join(project, file), code);
  try {
    execFileSync(process.execPath, [tsc, '-p', project], { encoding: 'utf8', stdio: 'pipe' });
    return '';
  } catch (error) {
    return String((error as { stdout?: string }).stdout ?? error);
  }
}

describe('the shipped types, for a strict consumer', () => {
  const project = consumerProject();

  it('type-check with skipLibCheck false, over the whole public API', () => {
    const errors = check(
      project,
      'app.ts',
      `import { MqttClient, MqttClientError, ConfigurationError, connectDevice, fileStore, encode, decode, PacketDecoder, describePacket, signCredentials, TransportError } from 'aliot-mqtt';
import type { MqttClientOptions, MqttMessage, EndReport, Packet, Device } from 'aliot-mqtt';
import { startEmulator } from 'aliot-mqtt/emulator';

const options: MqttClientOptions = { host: '::1', clientId: 'c', keepalive: 30, reconnect: { initialDelay: 100 } };
const client = new MqttClient(options);
client.on('message', (topic: string, payload: Buffer, message: MqttMessage) => console.log(topic, payload.toString(), message.qos));
client.on('packetsend', (packet: Packet, frame: Uint8Array) => console.log(describePacket(packet), frame.length));
client.on('close', (error, details) => console.log(error?.message, details.accepted, details.received.length));
client.on('error', (error: Error) => {
  if (error instanceof MqttClientError) console.log(error.code);
  if (error instanceof ConfigurationError) console.log(error.code, error.field);
  if (error instanceof TransportError) console.log(error.code);
});
async function main(): Promise<void> {
  await client.connect();
  await client.publish('t', 'x', { qos: 1, retain: false });
  await client.subscribe([{ topicFilter: 'a/#', qos: 1 }]);
  for await (const message of client.messages()) console.log(message.payload.toString('utf8'));
  const report: EndReport = await client.end({ timeout: 100 });
  console.log(report.unacknowledged.length, encode({ type: 'pingreq' }).length, decode(new Uint8Array([0xd0, 0])).type);
  new PacketDecoder({ maxPacketSize: 1024 });
  const device: Device = await connectDevice({ productKey: 'a1B2c3D4e5F', deviceName: 'd', deviceSecret: 's', store: fileStore('/tmp/x') });
  await device.postProperties({ t: 1 });
  console.log(signCredentials({ productKey: 'p', deviceName: 'd', deviceSecret: 's' }).username);
  const emulator = await startEmulator({ devices: [] });
  await emulator.close();
}
void main;
`,
    );
    expect(errors).toBe('');
  });

  it('refuse QoS 2 on publish and subscribe', () => {
    const errors = check(
      project,
      'qos2.ts',
      `import { MqttClient } from 'aliot-mqtt';
const client = new MqttClient({ host: '::1', clientId: 'c' });
void client.publish('t', 'x', { qos: 2 });
void client.subscribe('t', { qos: 2 });
`,
    );
    expect(errors.match(/qos2\.ts\(\d+,\d+\): error TS2322/g)).toHaveLength(2);
    rmSync(join(project, 'qos2.ts'));
  });
});
