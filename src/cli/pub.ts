/** `aliot pub`: publish one message, as mosquitto_pub does. */
import { readFileSync } from 'node:fs';
import { checkPlatformPublish } from '../aliyun/limits.js';
import type { MqttClient } from '../client/client.js';
import { encodedLength } from '../packet/codec.js';
import { MqttProtocolError } from '../packet/errors.js';
import type { Packet } from '../packet/types.js';
import { choiceOption, optionsWithHelp, parseArgs } from './args.js';
import type { CommandSpec } from './args.js';
import { CONNECTION_OPTIONS, createClient, PASSWORD_ENV, resolveConnection } from './connection.js';
import { report } from './report.js';
import { EXIT, UsageError } from './io.js';
import type { Io } from './io.js';
import { KEY_PASSPHRASE_ENV, SECRET_ENV } from './sign.js';

export const PUB: CommandSpec = {
  name: 'pub',
  summary: 'publish a message: to the platform as a device, or to any MQTT broker',
  usage: [
    'pub --product-key PK --device-name DN [--endpoint WHERE] -t TOPIC (-m TEXT | -f FILE | -s | -n) [options]',
    'pub --cert FILE --key FILE [--endpoint WHERE] -t TOPIC (-m TEXT | -f FILE | -s | -n) [options]',
    'pub -h HOST [-p PORT] [--tcp] [-u USER] [-P PASSWORD] -t TOPIC (-m TEXT | -f FILE | -s | -n) [options]',
  ],
  description: `Connects, publishes one message, and disconnects; with QoS 1 it waits for the PUBACK first.
With --product-key and --device-name it signs in as that device (secret from --device-secret or
${SECRET_ENV}) and checks the platform's limits before sending: QoS 0 or 1, no retain, a topic
of at most 128 characters, a payload of at most 256 KB. With --cert and --key instead of a secret
it is a device of an X.509 product, authenticated by its certificate on the platform's X.509
endpoint (or --endpoint HOST:PORT); an encrypted key's passphrase comes from ${KEY_PASSPHRASE_ENV},
never a flag. With -h it talks to any MQTT 3.1.1 broker (password from -P or ${PASSWORD_ENV}),
presenting --cert and --key if the broker asks for a client certificate. It never reconnects: a
failure is reported with the library's explanation (a CONNACK refusal with its likely cause and
fix) and exit code 2; a connection that takes longer than --connect-timeout exits with code 3.`,
  options: [
    ...CONNECTION_OPTIONS,
    { name: 'topic', short: 't', type: 'string', placeholder: 'TOPIC', help: 'the topic to publish to' },
    { name: 'message', short: 'm', type: 'string', placeholder: 'TEXT', help: 'the message, as text' },
    { name: 'file', short: 'f', type: 'string', placeholder: 'FILE', help: 'send the contents of FILE' },
    { name: 'stdin', short: 's', type: 'boolean', help: 'send all of standard input as one message' },
    { name: 'null-message', short: 'n', type: 'boolean', help: 'send an empty message' },
    { name: 'qos', short: 'q', type: 'string', placeholder: '0|1', help: 'quality of service (default 0)' },
    { name: 'retain', short: 'r', type: 'boolean', help: 'ask the broker to retain it (the platform refuses this)' },
  ],
  examples: [
    `${SECRET_ENV}=... aliot pub --product-key a1B2c3 --device-name lamp --endpoint ipv6-test \\`,
    `    -t /sys/a1B2c3/lamp/thing/event/property/post -q 1 \\`,
    `    -m '{"id":"1","version":"1.0","params":{"LightSwitch":1},"method":"thing.event.property.post"}'`,
    'aliot pub -h ::1 -p 8883 --cafile ca.pem -t sensors/t1 -m 21.5',
    'aliot pub --cert meter.pem --key meter.key -t /sys/a1X509Product/meter/thing/event/property/post -q 1 -m ...',
    'aliot pub -h ::1 -p 8883 --cafile ca.pem --cert client.pem --key client.key -t sensors/t1 -m 21.5',
  ],
};

/** `-q`: QoS 0 or 1; 2 gets its own message, since the library refuses it on purpose. */
export function qosOption(args: ReturnType<typeof parseArgs>, command: string): 0 | 1 {
  if (args.string('qos') === '2') throw new UsageError('QoS 2 is not supported: the platform offers QoS 0 and 1 only', `use -q 1`);
  return choiceOption(args, 'qos', ['0', '1'] as const, command) === '1' ? 1 : 0;
}

/**
 * Checks a packet the command line describes (a topic, filters) with the codec before connecting,
 * so that a bad topic is a usage error (exit 1) rather than a failure after the connection.
 */
export function checkPacket(packet: Packet, option: string): void {
  try {
    encodedLength(packet);
  } catch (error) {
    if (!(error instanceof MqttProtocolError)) throw error;
    throw new UsageError(`${option}: ${error.detail}${error.statement === undefined ? '' : ` [${error.statement}]`}`);
  }
}

/** Ends the client unless a fatal failure ended it already. */
export async function endClient(client: MqttClient): Promise<void> {
  if (client.state !== 'ending' && client.state !== 'ended') await client.end();
}

export async function runPub(argv: readonly string[], io: Io): Promise<number> {
  const args = parseArgs(PUB, argv);
  const topic = args.string('topic');
  if (topic === undefined) throw new UsageError('-t TOPIC is required', "run 'aliot pub --help'");
  const qos = qosOption(args, 'pub');
  const retain = args.flag('retain');
  const payload = await messageOption(args, io);
  checkPacket({ type: 'publish', topic, payload, qos, packetId: qos === 0 ? undefined : 1, retain, dup: false }, '-t');
  const connection = resolveConnection(args, io, 'pub');
  if (connection.platform) checkPlatformPublish(topic, payload, { qos, retain });
  const client = createClient(connection, io);
  try {
    await client.connect();
    await client.publish(topic, payload, { qos, retain });
  } catch (error) {
    return report(io, 'aliot pub', error, { options: optionsWithHelp(PUB), facts: connection.facts });
  } finally {
    await endClient(client);
  }
  return EXIT.ok;
}

/** Exactly one of -m, -f, -s, -n. */
async function messageOption(args: ReturnType<typeof parseArgs>, io: Io): Promise<Uint8Array> {
  const given = ['message', 'file', 'stdin', 'null-message'].filter((name) => args.string(name) !== undefined || args.flag(name));
  if (given.length !== 1) {
    throw new UsageError(
      given.length === 0 ? 'say what to send: -m TEXT, -f FILE, -s (stdin) or -n (empty)' : `give one of ${given.map((n) => `--${n}`).join(', ')}`,
      "run 'aliot pub --help'",
    );
  }
  const message = args.string('message');
  if (message !== undefined) return Buffer.from(message, 'utf8');
  const file = args.string('file');
  if (file !== undefined) {
    try {
      return readFileSync(file);
    } catch (cause) {
      throw new UsageError(`cannot read -f ${file}: ${(cause as Error).message}`);
    }
  }
  return args.flag('stdin') ? io.readStdin() : new Uint8Array(0);
}
