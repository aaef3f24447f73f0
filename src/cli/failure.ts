/**
 * A failed or lost connection told the way the command line reads it. The library's errors carry
 * their advice as data, naming the library's options; here each option becomes the flag that sets
 * it in this command (advice whose option the command has no flag for is left out), and what the
 * command saw of the connection adds the hints the library alone cannot give.
 */
import { platformConnackHint } from '../aliyun/connack.js';
import type { PlatformConnackHint } from '../aliyun/connack.js';
import { x509ConnackHint } from '../aliyun/x509.js';
import { platformClosedHint, platformTransportHint } from '../aliyun/hints.js';
import { ConnectionRefusedError, MqttClientError } from '../client/errors.js';
import { MqttProtocolError } from '../packet/errors.js';
import type { Advice, AdviceOption, Hint, OptionNamer } from '../shared/advice.js';
import { adviceLines } from '../shared/advice.js';
import { earlyCloseHint } from '../transport/closed.js';
import { TransportError } from '../transport/errors.js';
import type { OptionSpec } from './args.js';
import { KEY_PASSPHRASE_ENV } from './sign.js';

/** What a command knows of its connection, filled in as the connection goes. */
export interface ConnectionFacts {
  /** `[::1]:8883 over TLS`. */
  readonly where: string;
  readonly transport: 'tls' | 'tcp';
  readonly port: number;
  /** Signed in as a platform device (device credentials, or a platform clientId given by hand). */
  readonly platform: boolean;
  /** Milliseconds the client may take to connect, up to the CONNACK. */
  readonly connectTimeout: number;
  /** The flag that bounds connecting: `-W` when its wait is shorter than `--connect-timeout`. */
  readonly timeoutFlag: 'connect-timeout' | 'timeout';
  /** The transport handed over the socket: TCP (and TLS) are up. */
  opened: boolean;
  /** The CONNACK accepted the session. */
  accepted: boolean;
  /** The first bytes the server sent on the connection (at most {@link RECEIVED_KEPT}). */
  received: Uint8Array;
}

/** Bytes of the server's first data kept in {@link ConnectionFacts.received}: enough to tell a TLS record. */
export const RECEIVED_KEPT = 8;

/** A failure in the command line's words. */
export interface DescribedFailure {
  readonly message: string;
  /** One line each: the library's advice, then what the layers and this command add. */
  readonly hints: readonly string[];
}

/** The library's option names as this command's flags: `family` is `--family`, `ca` is `--cafile`. */
const FLAGS: Readonly<Record<string, (value: string | number | undefined) => [flag: string, shown: string]>> = {
  family: (value) => ['family', `--family ${value ?? '6|4|0'}`],
  ca: () => ['cafile', '--cafile FILE'],
  transport: (value) => (value === 'tcp' ? ['tcp', '--tcp'] : ['tls', '--tls instead of --tcp']),
  connectTimeout: () => ['connect-timeout', '--connect-timeout SECONDS'],
  host: (value) => ['host', `-h ${value ?? 'HOST'}`],
  endpoint: (value) => ['endpoint', `--endpoint ${value ?? 'WHERE'}`],
  cert: () => ['cert', '--cert FILE'],
  key: () => ['key', '--key FILE'],
};

/** Names options by the flags among `options` (a command's own); `undefined` for those it lacks. */
export function flagNamer(options: readonly OptionSpec[], facts?: ConnectionFacts): OptionNamer {
  const has = new Set(options.map((o) => o.name));
  return ({ name, value }: AdviceOption) => {
    if (name === 'connectTimeout' && facts?.timeoutFlag === 'timeout' && has.has('timeout')) return '-W SECONDS';
    const entry = FLAGS[name];
    if (entry === undefined) return undefined;
    const [flag, shown] = entry(value);
    return has.has(flag) ? shown : undefined;
  };
}

/**
 * A connection failure in the command's words, or `undefined` for an error that is not one (the
 * caller reports it as it would anyway).
 */
export function describeFailure(error: unknown, options: readonly OptionSpec[], facts?: ConnectionFacts): DescribedFailure | undefined {
  const namer = flagNamer(options, facts);
  const line = (advice: readonly Advice[]): string[] => {
    const lines = adviceLines(advice, namer);
    return lines.length === 0 ? [] : [lines.join('; ')];
  };
  const hintLines = (hints: ReadonlyArray<Hint | undefined>): string[] =>
    hints.flatMap((hint) => {
      if (hint === undefined) return [];
      const advice = adviceLines(hint.advice, namer);
      return [advice.length === 0 ? hint.text : `${hint.text}: ${advice.join('; ')}`];
    });

  if (error instanceof TransportError) {
    const platform = platformTransportHint(error);
    const added = platform === undefined || error.hints.some((h) => h.code === platform.code) ? [] : [platform];
    return { message: error.summary, hints: [...line(error.advice), ...hintLines([...error.hints, ...added])] };
  }
  if (error instanceof ConnectionRefusedError && error.hint !== undefined) {
    return {
      message: `the server refused the connection: CONNACK ${error.returnCode} (${error.hint.meaning})`,
      hints: [`likely cause: ${error.hint.cause}`, `fix: ${error.hint.fix}`],
    };
  }
  if (facts === undefined) return undefined;
  const beforeConnack = facts.opened && !facts.accepted;
  if (error instanceof MqttClientError && error.code === 'connack-timeout') {
    return {
      message: `no CONNACK within ${seconds(facts.connectTimeout)} of connecting to ${facts.where}: the server took the connection but did not answer CONNECT`,
      hints: line([{ code: 'allow-more-time', text: 'check that an MQTT server listens there, or allow more time with {option}', option: { name: 'connectTimeout' } }]),
    };
  }
  const closed = error instanceof MqttClientError && error.code === 'connection-closed';
  if (beforeConnack && closed) {
    const errno = (error.cause as { code?: unknown } | undefined)?.code;
    const how = typeof errno === 'string' ? ` (${errno})` : '';
    return { message: `${facts.where} closed the connection after CONNECT, without a CONNACK${how}`, hints: hintLines([earlyCloseHint(facts)]) };
  }
  if (beforeConnack && error instanceof MqttProtocolError) {
    return { message: error.message, hints: hintLines([earlyCloseHint(facts)]) };
  }
  if (facts.accepted && closed && facts.platform) {
    return { message: (error as Error).message, hints: hintLines([platformClosedHint()]) };
  }
  return undefined;
}

/** `2 s`, `0.5 s`. */
export function seconds(ms: number): string {
  return `${ms / 1000} s`;
}

/**
 * The fixes of the platform's CONNACK hints that name library functions, in this command's
 * terms: `aliot` signs with its own flags, or `aliot sign` prints what to pass by hand.
 */
const CONNACK_FIXES: Readonly<Record<number, string>> = {
  2: "use a short -i such as the MAC or serial number: with --product-key and --device-name, aliot writes the |securemode=..,signmethod=..| extension itself; by hand, take -i, -u and -P from 'aliot sign'",
  3: "with --product-key and --device-name, aliot derives securemode from --tls or --tcp; by hand, take -i from 'aliot sign' given the same --tcp; keep -k within 30..1200; otherwise retry later",
  4: "check the device secret (--device-secret or ALIOT_DEVICE_SECRET) against the console; by hand, take -u and -P from 'aliot sign'; the user name must be deviceName&productKey",
};

/** The platform's reading of a refusal of a device that authenticates by certificate (--cert). */
export function cliX509ConnackHint(returnCode: number): PlatformConnackHint | undefined {
  const hint = x509ConnackHint(returnCode);
  return returnCode === 4 ? (hint === undefined ? hint : { ...hint, fix: 'leave out --product-key and --device-name, or give the ones the platform sent' }) : hint;
}

/** The platform's reading of a CONNACK refusal, its fix said with this command's flags. */
export function cliConnackHint(returnCode: number): PlatformConnackHint | undefined {
  const hint = platformConnackHint(returnCode);
  const fix = CONNACK_FIXES[returnCode];
  return hint === undefined || fix === undefined ? hint : { ...hint, fix };
}

/** The library's option names that differ from this command's flags (the rest are spelled alike). */
const FIELD_FLAGS: Readonly<Record<string, string>> = {
  clientId: 'client-id',
  productKey: 'product-key',
  deviceName: 'device-name',
  deviceSecret: 'device-secret',
  ca: 'cafile',
  'endpoint.host': 'endpoint',
  'endpoint.port': 'endpoint',
  connectTimeout: 'connect-timeout',
  payload: 'message',
};

/**
 * The flag that sets the library option a ConfigurationError names, as `-k (--keepalive)`, or
 * `undefined` when this command has none.
 */
export function flagForField(field: string, options: readonly OptionSpec[]): string | undefined {
  // The passphrase has no flag on purpose: it would show in shell history and in `ps`.
  if (field === 'passphrase' && options.some((o) => o.name === 'key')) return `the environment variable ${KEY_PASSPHRASE_ENV}`;
  const name = FIELD_FLAGS[field] ?? field;
  const option = options.find((o) => o.name === name);
  if (option === undefined) return undefined;
  return option.short === undefined ? `--${option.name}` : `-${option.short} (--${option.name})`;
}
