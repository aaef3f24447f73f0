/**
 * `aliot web`: the stand-in and the page that draws its sessions (src/web/), until Ctrl-C.
 */
import type { EmulatorDevice } from '../emulator/types.js';
import { WEB_DEMO_DEVICE } from '../web/demo-device.js';
import { isLoopbackAddress, startWeb, WEB_GUEST_DEVICE } from '../web/server.js';
import { integerOption, parseArgs } from './args.js';
import type { CommandSpec } from './args.js';
import { parseDevice } from './emulator.js';
import { EXIT, UsageError } from './io.js';
import type { Io } from './io.js';
import { SECRET_ENV } from './sign.js';
import { styleFor } from './style.js';

export const WEB: CommandSpec = {
  name: 'web',
  summary: 'the protocol in the browser: a live session view, a dissector and the signing steps',
  usage: ['web [--port N] [--mqtt-port N] [--host ADDRESS] [--device PK:DN:SECRET ...]'],
  description: `Starts the local platform stand-in and a small web server on the loopback, prints the page's
address, and serves one page with three parts: the session view (device and platform as two
lanes, every packet an arrow, with buttons that run the demo's steps, a lost connection and the
reconnect among them; devices of your own that connect to the stand-in are drawn live too), the
dissector (click a packet or paste hex: every byte with its field, meaning and spec section) and
the signing panel (how the CONNECT credentials come from the device triple). Nothing on the page
comes from the internet. Only this machine can open it. Ctrl-C stops it.`,
  options: [
    { name: 'port', type: 'string', placeholder: 'N', help: "the page's port (default 0: a free one, printed at start)" },
    { name: 'mqtt-port', type: 'string', placeholder: 'N', help: "the stand-in's port (default 0: a free one, printed at start)" },
    { name: 'host', type: 'string', placeholder: 'ADDRESS', help: 'a loopback address: ::1 (default) or 127.0.0.1 where there is no IPv6' },
    {
      name: 'device',
      type: 'string',
      multiple: true,
      secret: true,
      placeholder: 'PK:DN[:SECRET]',
      help: `one more device the stand-in lets in, for your own device or tool; without :SECRET, ${SECRET_ENV} is its secret`,
    },
  ],
  examples: ['aliot web', 'aliot web --port 8080 --mqtt-port 8883', 'npm run web    (from a clone: builds, then runs aliot web)'],
};

export async function runWeb(argv: readonly string[], io: Io): Promise<number> {
  const args = parseArgs(WEB, argv);
  const host = args.string('host') ?? '::1';
  if (!isLoopbackAddress(host)) {
    throw new UsageError(`--host must be a loopback address: the page is for this machine only`, 'use ::1 (the default) or 127.0.0.1');
  }
  const web = await startWeb({
    host,
    port: integerOption(args, 'port', 0, 65535, 'web') ?? 0,
    mqttPort: integerOption(args, 'mqtt-port', 0, 65535, 'web') ?? 0,
    // Without --x509 every device given has a secret.
    devices: args.strings('device').map((text, i) => parseDevice(text, i, io, false) as EmulatorDevice),
  });
  const style = styleFor(io);
  const named = (d: { deviceName: string; productKey: string }): string => `${d.deviceName} of ${d.productKey}`;
  io.stdout.write(
    [
      style.bold('aliot web: the protocol in the browser'),
      `page:      ${web.url}`,
      `stand-in:  ${web.emulator.url}`,
      `devices:   ${named(WEB_DEMO_DEVICE)} (the page's demo device), ${named(WEB_GUEST_DEVICE)} (secret ${WEB_GUEST_DEVICE.deviceSecret}, for your own tools: the page shows how)` +
        args.strings('device').map((_, i) => `, your device ${i + 1}`).join(''),
      `Open the page in a browser on this machine. Ctrl-C stops.`,
      '',
    ].join('\n'),
  );
  await new Promise<void>((resolve) => {
    if (io.signal.aborted) resolve();
    else io.signal.addEventListener('abort', () => resolve(), { once: true });
  });
  await web.close();
  io.stdout.write('closed: the page, the demo device and the stand-in\n');
  return EXIT.ok;
}
