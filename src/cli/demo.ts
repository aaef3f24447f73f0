/**
 * `aliot demo`: one whole device session against the local stand-in, every packet shown both
 * ways with a heading per step that says what happens and why. Written for someone learning
 * MQTT and the platform, so it favours explanation over brevity; it needs no internet and ends
 * by itself in about a second.
 */
import { readFileSync } from 'node:fs';
import { debuglog } from 'node:util';
import { connectDevice } from '../device/device.js';
import type { Device } from '../device/device-types.js';
import { startEmulator } from '../emulator/emulator.js';
import { parseArgs } from './args.js';
import type { ParsedArgs } from './args.js';
import { CERTIFICATE_OPTIONS, CONNECT_TIMEOUT_OPTION, connectTimeoutOption } from './connection.js';
import { KEY_PASSPHRASE_ENV } from './sign.js';
import { UsageError } from './io.js';
import type { CommandSpec } from './args.js';
import { EXIT } from './io.js';
import type { Io } from './io.js';
import { styleFor } from './style.js';
import { paragraph, Wire } from './demo-wire.js';
import { maskPayloadSecrets } from './demo-mask.js';

/**
 * The demo's device. The secret is a fixed, public value: it protects nothing but a stand-in on
 * the loopback, and a fixed value lets the tests check that it never appears in the output.
 */
export const DEMO_DEVICE = Object.freeze({ productKey: 'a1DemoProd', deviceName: 'lamp', deviceSecret: 'demo-lamp-secret' });

export const DEMO: CommandSpec = {
  name: 'demo',
  summary: 'a whole device session against a local stand-in, every packet shown and explained',
  usage: ['demo [--explain] [--connect-timeout SECONDS]', 'demo --x509 [--cert FILE --key FILE] [--explain]', 'demo gateway [--explain]'],
  description: `Starts the local platform stand-in on [::1], connects a device to it over TLS and IPv6 with
signed credentials, posts properties and shows the platform's reply, receives a property set
from the cloud side and answers it, sends a PINGREQ, and disconnects. Every packet in both
directions is printed with a one-line summary and its bytes (passwords masked), under a heading
that says what the step does and why. No internet is needed; it ends by itself.

With --x509 the device is one of an X.509 product instead: it has no secret, authenticates by
the certificate the stand-in issues it, and learns its productKey and deviceName from the
platform after connecting. --cert and --key give it a certificate of your own, such as one
'aliot emulator issue --device ${DEMO_DEVICE.productKey}:${DEMO_DEVICE.deviceName}' made (an encrypted key's
passphrase in ${KEY_PASSPHRASE_ENV}).

'aliot demo gateway' runs a gateway instead: registration, three sub-devices, one packed post,
a clock sync and a firmware upgrade ('aliot demo gateway --help').`,
  options: [
    { name: 'explain', type: 'boolean', help: 'also dissect every packet field by field (as aliot explain does)' },
    { name: 'x509', type: 'boolean', help: "a device of an X.509 product: authenticated by its certificate, told its identity by the platform" },
    ...CERTIFICATE_OPTIONS.map((option) => ({ ...option, help: `${option.help} (implies --x509)` })),
    CONNECT_TIMEOUT_OPTION,
  ],
  examples: ['aliot demo', 'aliot demo --explain | less', 'aliot demo --x509', 'aliot demo gateway'],
};

/** `--cert` and `--key` as files read, the passphrase from the environment; `undefined` without them. */
function demoCertificate(args: ParsedArgs, io: Io): { cert: Buffer; key: Buffer; passphrase?: string } | undefined {
  const cert = args.string('cert');
  const key = args.string('key');
  if (cert === undefined && key === undefined) return undefined;
  if (cert === undefined || key === undefined) throw new UsageError('give --cert and --key together', "run 'aliot demo --help'");
  const read = (flag: string, path: string): Buffer => {
    try {
      return readFileSync(path);
    } catch (cause) {
      throw new UsageError(`cannot read --${flag} ${path}: ${(cause as Error).message}`);
    }
  };
  const passphrase = io.env[KEY_PASSPHRASE_ENV];
  return { cert: read('cert', cert), key: read('key', key), ...(passphrase === undefined || passphrase === '' ? {} : { passphrase }) };
}

export async function runDemo(argv: readonly string[], io: Io): Promise<number> {
  const args = parseArgs(DEMO, argv);
  const connectTimeout = connectTimeoutOption(args, 'demo');
  const ownCertificate = demoCertificate(args, io);
  const x509 = args.flag('x509') || ownCertificate !== undefined;
  const style = styleFor(io);
  const out = (text: string): void => io.stdout.write(text);
  const steps = 6;
  let step = 0;
  const heading = (title: string, why: string): void => {
    step++;
    out(`\n${style.bold(`[${step}/${steps}] ${title}`)}\n${style.dim(paragraph(why))}\n`);
  };
  const { productKey, deviceName } = DEMO_DEVICE;

  out(`${style.bold('aliot demo: one device session with the IoT Platform, packet by packet')}\n`);
  out(paragraph('Against a local stand-in for the platform on the IPv6 loopback: nothing leaves this machine. Each packet is shown as it crosses the wire, with who sent it, what it says, and its first bytes in hex.', ''));
  if (debuglog('aliot').enabled) {
    out(paragraph("NODE_DEBUG=aliot is set: the client library also writes its own one-line trace of each packet to stderr; the annotated trace below is this demo's.", ''));
  }

  heading(
    'Start the platform stand-in',
    x509
      ? `The stand-in (startEmulator, see docs/emulator.md) listens on [::1] over TLS 1.2 with a loopback test certificate, in X.509 mode: like the platform's X.509 endpoint, it asks each device for a certificate and admits the device a certificate names if its device CA issued it. It knows one device, ${deviceName} of product ${productKey}, of an X.509 product: it has no DeviceSecret. ${ownCertificate === undefined ? "The stand-in issues it its certificate and key now, as the platform's console does." : 'The device uses the certificate and key given with --cert and --key.'}`
      : `The stand-in (startEmulator, see docs/emulator.md) listens on [::1] over TLS 1.2 with a loopback test certificate, and checks CONNECT the way the platform does. It knows one device: ${deviceName} of product ${productKey}, with its DeviceSecret.`,
  );
  const emulator = await startEmulator(
    x509 ? { devices: [{ productKey, deviceName }], x509: true } : { devices: [{ ...DEMO_DEVICE }] },
  );
  const wire = new Wire(emulator, style, {
    party: 'device',
    dissect: args.flag('explain'),
    write: out,
    shown: ({ packet, bytes }) => maskPayloadSecrets(packet, bytes),
  });
  let device: Device | undefined;
  try {
    out(`    listening on ${emulator.url}\n`);

    heading(
      'Connect: TCP, TLS, CONNECT and CONNACK, then SUBSCRIBE',
      x509
        ? `connectDevice opens a TCP connection over IPv6 (family 6) to [::1]:${emulator.port} and does the TLS handshake: it checks the server's certificate against the stand-in's CA, and presents its own, proving it holds the certificate's key. CONNECT then carries no signature at all: the certificate was the credential. The device does not know its productKey and deviceName yet, so it sends them empty, as the vendor's C SDK does: the clientId '.|securemode=2|', the user name '&', an empty password. After CONNACK 0 the platform tells the device who it is, on /ext/auth/identity/response, which needs no subscription; connectDevice waits for that, then subscribes, at QoS 1, to the topics the platform talks to the device on.`
        : `connectDevice opens a TCP connection over IPv6 (family 6) to [::1]:${emulator.port}, does the TLS handshake and checks the server's certificate against the stand-in's CA, then sends CONNECT, always the first packet [MQTT-3.1.0-1]. Its clientId carries the platform's extension (securemode=2 because the transport is TLS, the sign method, a timestamp); the user name is deviceName&productKey; the password is the HMAC of those values keyed with the device secret, which itself never goes on the wire. CONNACK 0 accepts the session. connectDevice then subscribes, at QoS 1, to the topics the platform talks to the device on: the replies to its posts, property sets and service calls, and RRPC requests.`,
    );
    const endpoint = { host: '::1', port: emulator.port };
    const common = { endpoint, ca: emulator.ca, family: 6 as const, reconnect: false as const, connectTimeout };
    device = x509
      ? await connectDevice({ ...(ownCertificate ?? emulator.issueCertificate(productKey, deviceName)), ...common })
      : await connectDevice({ ...DEMO_DEVICE, ...common });
    await wire.settled();
    const connection = emulator.connections()[0];
    out(`    connected: the stand-in sees device ${connection?.deviceName} with clientId ${connection?.clientId}, keepalive ${connection?.keepalive} s\n`);
    if (x509) out(`    the platform told the device who it is: ${device.deviceName} of product ${device.productKey}\n`);

    heading(
      'Post properties and get the reply',
      "postProperties publishes an Alink request (method thing.event.property.post, with an id) on the device's property post topic at QoS 1. QoS 1 means at least once: the platform acknowledges the PUBLISH itself with a PUBACK carrying the same packet identifier [MQTT-4.3.2-2]. The answer to the request comes separately, on .../post_reply with the same Alink id, and the device acknowledges that PUBLISH in turn.",
    );
    const reply = await device.postProperties({ LightSwitch: 1, Brightness: 80 });
    await wire.settled();
    out(`    reply: code ${reply.code} for request id ${reply.id}\n`);

    heading(
      'The cloud sets a property, the device answers',
      "The platform side publishes thing.service.property.set on the device's property set topic. The device acknowledges it (PUBACK), its onPropertySet handler applies the values, and connectDevice answers on .../set_reply with the request's id, at QoS 0 as the vendor SDKs do. Its thing/service/# subscription does not bring the reply back to it: as on the platform, the stand-in never sends a device its own messages.",
    );
    device.onPropertySet((params) => {
      out(`    device: onPropertySet handler applies ${JSON.stringify(params)}\n`);
      return {};
    });
    const setReply = await emulator.sendPropertySet(productKey, deviceName, { LightSwitch: 0 });
    await wire.settled();
    out(`    the cloud got the device's reply: code ${setReply.code} for request id ${setReply.id}\n`);

    heading(
      'Keepalive: PINGREQ and PINGRESP',
      `A client must send something at least every Keep Alive seconds (300 here) [MQTT-3.1.2-23]; when it has nothing to say it sends PINGREQ, and the server answers PINGRESP. The server may close a connection that stays silent for 1.5 times the keepalive. client.ping() sends one now instead of waiting five minutes.`,
    );
    const roundTrip = await device.client.ping();
    await wire.settled();
    out(`    round trip: ${Math.max(0, Math.round(roundTrip))} ms\n`);

    heading(
      'Disconnect',
      'end() waits for outstanding acknowledgements, sends DISCONNECT and closes the connection; nothing may follow DISCONNECT [MQTT-3.14.4-1, MQTT-3.14.4-2]. DISCONNECT tells the server the client leaves on purpose: it learns so at once instead of when the keepalive runs out, and discards any will message (the platform has none).',
    );
    const { unacknowledged } = await device.end();
    device = undefined;
    await wire.settled();
    out(`    unacknowledged messages: ${unacknowledged.length}\n`);
  } finally {
    if (device !== undefined) await device.end({ force: true });
    await emulator.close();
  }
  out(
    `\n${style.bold('Done.')} ${wire.packets} packets: ${wire.bytes.in} bytes from the device, ${wire.bytes.out} bytes from the platform.\n` +
      paragraph("Take any of them apart field by field with 'aliot explain <hex>' (or run 'aliot demo --explain'); 'aliot emulator' runs the stand-in for your own tools.", ''),
  );
  return EXIT.ok;
}
