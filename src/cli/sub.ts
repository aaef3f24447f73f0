/** `aliot sub`: subscribe and print messages, as mosquitto_sub does. */
import { checkPlatformSubscribe } from '../aliyun/limits.js';
import { MqttClientError } from '../client/errors.js';
import { integerOption, optionsWithHelp, parseArgs } from './args.js';
import type { CommandSpec } from './args.js';
import { CONNECTION_OPTIONS, createClient, PASSWORD_ENV, resolveConnection } from './connection.js';
import { report } from './report.js';
import { EXIT, UsageError } from './io.js';
import type { Io } from './io.js';
import { checkPacket, endClient, qosOption } from './pub.js';
import { KEY_PASSPHRASE_ENV, SECRET_ENV } from './sign.js';

export const SUB: CommandSpec = {
  name: 'sub',
  summary: 'subscribe and print messages: from the platform as a device, or from any MQTT broker',
  usage: [
    'sub --product-key PK --device-name DN [--endpoint WHERE] -t FILTER... [-C COUNT] [-W SECONDS] [-v] [options]',
    'sub --cert FILE --key FILE [--endpoint WHERE] -t FILTER... [-C COUNT] [-W SECONDS] [-v] [options]',
    'sub -h HOST [-p PORT] [--tcp] [-u USER] [-P PASSWORD] -t FILTER... [-C COUNT] [-W SECONDS] [-v] [options]',
  ],
  description: `Connects, subscribes to every -t filter and prints each message's payload on its own line (with
-v, the topic first). It stops after -C messages, after -W seconds counted from the start,
connecting included (exit code 3), on Ctrl-C or SIGTERM (exit code 0), or when the connection
fails or is lost (exit code 2; 3 when connecting takes longer than --connect-timeout). With
--product-key and --device-name it signs in as that device (secret from --device-secret or
${SECRET_ENV}); with --cert and --key instead, as a device of an X.509 product (the platform then
sends it its identity, which -v shows on /ext/auth/identity/response); with -h it talks to any
MQTT 3.1.1 broker (password from -P or ${PASSWORD_ENV}), presenting --cert and --key if given. An
encrypted key's passphrase comes from ${KEY_PASSPHRASE_ENV}. It never reconnects.`,
  options: [
    ...CONNECTION_OPTIONS,
    { name: 'topic', short: 't', type: 'string', multiple: true, placeholder: 'FILTER', help: 'a topic filter to subscribe to' },
    { name: 'qos', short: 'q', type: 'string', placeholder: '0|1', help: 'the highest QoS asked for (default 0)' },
    { name: 'count', short: 'C', type: 'string', placeholder: 'COUNT', help: 'exit after this many messages' },
    { name: 'timeout', short: 'W', type: 'string', placeholder: 'SECONDS', help: 'exit (code 3) after this many seconds, connecting included' },
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
  // -W bounds the whole run: connecting gets at most that long (see resolveConnection).
  const connection = resolveConnection(args, io, 'sub', timeout === undefined ? undefined : timeout * 1000);
  if (connection.platform) for (const filter of filters) checkPlatformSubscribe(filter, qos);
  const context = { options: optionsWithHelp(SUB), facts: connection.facts };

  const client = createClient(connection, io);
  let received = 0;
  let subscribed = false;
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
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    // Each step races the end of the run (Ctrl-C, -W), so that neither waits for the other.
    const ended = await untilFinished(client.connect(), finished);
    if (ended !== undefined) return ended;
    if (timeout !== undefined) {
      timer = setTimeout(() => {
        const got = `${received} message${received === 1 ? '' : 's'}`;
        io.stderr.write(`aliot sub: timed out after ${timeout} s with ${got}${subscribed ? '' : ' (the SUBACK had not come)'}\n`);
        done(EXIT.timeout);
      }, Math.max(0, timeout * 1000 - (performance.now() - started)));
    }
    const endedEarly = await untilFinished(client.subscribe(subscriptions), finished);
    if (endedEarly !== undefined) return endedEarly;
    subscribed = true;
    // Without reconnecting, a lost connection ends the subscription. (Failures before this
    // point reject connect or subscribe instead, and are reported once, below.)
    client.on('close', (error) =>
      done(report(io, 'aliot sub', error ?? new MqttClientError('connection-closed', 'the connection closed'), context)),
    );
    return io.signal.aborted ? EXIT.ok : await finished;
  } catch (error) {
    return report(io, 'aliot sub', error, context);
  } finally {
    clearTimeout(timer);
    io.signal.removeEventListener('abort', stop);
    client.removeAllListeners('close');
    await endClient(client);
  }
}

/**
 * `undefined` once `step` resolves, or the exit code if the run finished first; rejects as the
 * step does. A step left behind may still reject later: that is expected and ignored.
 */
async function untilFinished(step: Promise<unknown>, finished: Promise<number>): Promise<number | undefined> {
  step.catch(() => undefined);
  return Promise.race([step.then(() => undefined), finished]);
}
