/** `aliot sub`: subscribe and print messages, as mosquitto_sub does. */
import { checkPlatformSubscribe } from '../aliyun/limits.js';
import { MqttClient } from '../client/client.js';
import { integerOption, parseArgs } from './args.js';
import type { CommandSpec } from './args.js';
import { CONNECTION_OPTIONS, PASSWORD_ENV, resolveConnection } from './connection.js';
import { traceClient } from './trace.js';
import { report } from './report.js';
import { EXIT, UsageError } from './io.js';
import type { Io } from './io.js';
import { checkPacket, endClient, qosOption } from './pub.js';
import { SECRET_ENV } from './sign.js';

export const SUB: CommandSpec = {
  name: 'sub',
  summary: 'subscribe and print messages: from the platform as a device, or from any MQTT broker',
  usage: [
    'sub --product-key PK --device-name DN [--endpoint WHERE] -t FILTER... [-C COUNT] [-W SECONDS] [-v] [options]',
    'sub -h HOST [-p PORT] [--tcp] [-u USER] [-P PASSWORD] -t FILTER... [-C COUNT] [-W SECONDS] [-v] [options]',
  ],
  description: `Connects, subscribes to every -t filter and prints each message's payload on its own line (with
-v, the topic first). It stops after -C messages, after -W seconds (exit code 3), on Ctrl-C or
SIGTERM (exit code 0), or when the connection is lost (exit code 2). With --product-key and
--device-name it signs in as that device (secret from --device-secret or ${SECRET_ENV}); with -h
it talks to any MQTT 3.1.1 broker (password from -P or ${PASSWORD_ENV}). It never reconnects.`,
  options: [
    ...CONNECTION_OPTIONS,
    { name: 'topic', short: 't', type: 'string', multiple: true, placeholder: 'FILTER', help: 'a topic filter to subscribe to' },
    { name: 'qos', short: 'q', type: 'string', placeholder: '0|1', help: 'the highest QoS asked for (default 0)' },
    { name: 'count', short: 'C', type: 'string', placeholder: 'COUNT', help: 'exit after this many messages' },
    { name: 'timeout', short: 'W', type: 'string', placeholder: 'SECONDS', help: 'exit (code 3) after this many seconds' },
    { name: 'verbose', short: 'v', type: 'boolean', help: 'print the topic before each payload' },
  ],
  examples: [
    `${SECRET_ENV}=... aliot sub --product-key a1B2c3 --device-name lamp --endpoint ipv6-test \\`,
    `    -t '/sys/a1B2c3/lamp/thing/service/#' -q 1 -v`,
    'aliot sub -h ::1 -p 8883 --cafile ca.pem -t sensors/# -C 10 -v',
  ],
};

export async function runSub(argv: readonly string[], io: Io): Promise<number> {
  const args = parseArgs(SUB, argv);
  const filters = args.strings('topic');
  if (filters.length === 0) throw new UsageError('at least one -t FILTER is required', "run 'aliot sub --help'");
  const qos = qosOption(args, 'sub');
  const count = integerOption(args, 'count', 1, Number.MAX_SAFE_INTEGER, 'sub');
  const timeout = integerOption(args, 'timeout', 1, 2_147_483, 'sub');
  const verbose = args.flag('verbose');
  const subscriptions = filters.map((topicFilter) => ({ topicFilter, qos }));
  checkPacket({ type: 'subscribe', packetId: 1, subscriptions }, '-t');
  const connection = resolveConnection(args, io, 'sub');
  if (connection.platform) for (const filter of filters) checkPlatformSubscribe(filter, qos);

  const client = new MqttClient(connection.options);
  if (connection.trace) traceClient(client, io);
  let received = 0;
  let done: (code: number) => void = () => undefined;
  const finished = new Promise<number>((resolve) => (done = resolve));
  client.on('message', (topic, payload) => {
    if (count !== undefined && received >= count) return;
    received++;
    const text = Buffer.from(payload.buffer, payload.byteOffset, payload.length).toString('utf8');
    io.stdout.write(verbose ? `${topic} ${text}\n` : `${text}\n`);
    if (count !== undefined && received >= count) done(EXIT.ok);
  });
  const stop = (): void => done(EXIT.ok);
  io.signal.addEventListener('abort', stop, { once: true });
  let timer: NodeJS.Timeout | undefined;
  try {
    await client.connect();
    await client.subscribe(subscriptions);
    // Without reconnecting, a lost connection ends the subscription. (Failures before this
    // point reject connect or subscribe instead, and are reported once, by the caller.)
    client.on('close', (error) => done(report(io, 'aliot sub', error ?? new Error('the connection closed'))));
    if (timeout !== undefined) {
      timer = setTimeout(() => {
        io.stderr.write(`aliot sub: timed out after ${timeout} s with ${received} message${received === 1 ? '' : 's'}\n`);
        done(EXIT.timeout);
      }, timeout * 1000);
    }
    return io.signal.aborted ? EXIT.ok : await finished;
  } finally {
    clearTimeout(timer);
    io.signal.removeEventListener('abort', stop);
    client.removeAllListeners('close');
    await endClient(client);
  }
}
