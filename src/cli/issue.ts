/**
 * `aliot emulator issue`: a device's certificate and key under the stand-in's throwaway device CA,
 * as the platform's console hands them to a device of an X.509 product.
 */
import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DeviceCa } from '../emulator/x509/ca.js';
import { parseArgs } from './args.js';
import type { CommandSpec } from './args.js';
import { EXIT, UsageError } from './io.js';
import type { Io } from './io.js';

export const EMULATOR_ISSUE: CommandSpec = {
  name: 'emulator issue',
  summary: "issue a device a certificate under the stand-in's device CA",
  usage: ['emulator issue --device PK:DN [--out DIR]'],
  description: `Issues a device a certificate and key under the stand-in's throwaway device CA
(certs/emulator), as the platform's console does for a device of an X.509 product: the
certificate names the device (O=aliot-mqtt stand-in device, OU=PK, CN=DN), is for client
authentication only, and is valid from 2020 to 2120. 'aliot emulator --x509 --device PK:DN'
admits the device by it. With --out it writes DIR/device.pem and DIR/device.key (the key readable
by its owner only) and never overwrites them; without, it prints both. The CA's key is public:
such a certificate proves nothing outside a stand-in on the loopback.`,
  options: [
    { name: 'device', type: 'string', placeholder: 'PK:DN', help: 'the device the certificate names: its productKey and deviceName' },
    { name: 'out', type: 'string', placeholder: 'DIR', help: 'write DIR/device.pem and DIR/device.key (DIR is made if missing)' },
  ],
  examples: ['aliot emulator issue --device a1Demo:lamp --out ./lamp', 'aliot emulator issue --device a1Demo:lamp > lamp.pem'],
};

export async function runIssue(argv: readonly string[], io: Io): Promise<number> {
  const args = parseArgs(EMULATOR_ISSUE, argv);
  const help = "run 'aliot emulator issue --help'";
  const device = args.string('device');
  if (device === undefined) throw new UsageError('say which device: --device PK:DN', help);
  const colon = device.indexOf(':');
  const productKey = colon < 0 ? '' : device.slice(0, colon);
  const deviceName = colon < 0 ? '' : device.slice(colon + 1);
  if (productKey === '' || deviceName === '' || deviceName.includes(':')) {
    throw new UsageError('--device is not PK:DN', 'e.g. --device a1Demo:lamp (no secret: the certificate is the credential)');
  }
  const issued = (await DeviceCa.shipped()).issue({ productKey, deviceName });
  const out = args.string('out');
  if (out === undefined) {
    io.stdout.write(issued.cert + issued.key);
    return EXIT.ok;
  }
  const certFile = join(out, 'device.pem');
  const keyFile = join(out, 'device.key');
  for (const file of [certFile, keyFile]) {
    if (existsSync(file)) throw new UsageError(`${file} exists; it is not overwritten`, 'remove it, or give another --out');
  }
  try {
    mkdirSync(out, { recursive: true });
    writeFileSync(certFile, issued.cert, { mode: 0o644, flag: 'wx' });
    writeFileSync(keyFile, issued.key, { mode: 0o600, flag: 'wx' });
    chmodSync(keyFile, 0o600); // whatever the umask
  } catch (cause) {
    throw new UsageError(`cannot write to --out ${out}: ${(cause as Error).message}`, help);
  }
  io.stdout.write(
    `issued device ${deviceName} of product ${productKey} a certificate under the stand-in's device CA:\n` +
      `  ${certFile}\n  ${keyFile} (the device's private key, readable by you only)\n` +
      `connect with --cert ${certFile} --key ${keyFile} to 'aliot emulator --x509 --device ${productKey}:${deviceName}'\n`,
  );
  return EXIT.ok;
}
