/**
 * The connection options `pub` and `sub` share, in the spirit of mosquitto_pub/mosquitto_sub:
 * either a device's triple for the platform (signed with the library's own credentials code), or
 * the plain options for any MQTT 3.1.1 broker. Both end as MqttClient options with reconnecting
 * off: a command-line tool should fail and say why, not retry in silence.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { deviceConnectionOptions } from '../aliyun/connection.js';
import type { EndpointChoice } from '../aliyun/connection.js';
import { ALIYUN_REGIONS } from '../aliyun/endpoints.js';
import { x509ConnectionOptions } from '../aliyun/x509.js';
import type { X509EndpointChoice } from '../aliyun/x509.js';
import { PLATFORM_LIMITS } from '../aliyun/limits.js';
import { MqttClient } from '../client/client.js';
import type { MqttClientOptions } from '../client/options.js';
import { DEFAULT_CONNECT_TIMEOUT } from '../transport/options.js';
import { parseClientId } from '../sign/extension.js';
import { choiceOption, integerOption, secondsOption } from './args.js';
import type { OptionSpec, ParsedArgs } from './args.js';
import { cliConnackHint, cliX509ConnackHint, RECEIVED_KEPT } from './failure.js';
import type { ConnectionFacts } from './failure.js';
import { UsageError } from './io.js';
import type { Io } from './io.js';
import { DEVICE_OPTIONS, deviceSecret, KEY_PASSPHRASE_ENV } from './sign.js';
import { traceClient } from './trace.js';

/** Where the broker password may come from instead of the command line. */
export const PASSWORD_ENV = 'ALIOT_PASSWORD';

export { KEY_PASSPHRASE_ENV };

/** `--cert` and `--key`: a client certificate, for any broker that asks for one and for the platform's X.509 devices. */
export const CERTIFICATE_OPTIONS: readonly OptionSpec[] = [
  {
    name: 'cert',
    type: 'string',
    placeholder: 'FILE',
    help: "PEM file of the client certificate (then any intermediate CAs): for a broker that asks for one, or a platform device of an X.509 product (no secret; endpoint x509 by default)",
  },
  { name: 'key', type: 'string', placeholder: 'FILE', help: `PEM file of the certificate's private key; if encrypted, its passphrase in ${KEY_PASSPHRASE_ENV}` },
];

/** `--connect-timeout`: every command that connects has it. */
export const CONNECT_TIMEOUT_OPTION: OptionSpec = {
  name: 'connect-timeout',
  type: 'string',
  placeholder: 'SECONDS',
  help: `give up connecting (name lookup, TCP, TLS and CONNACK) after this long, exit code 3 (default ${DEFAULT_CONNECT_TIMEOUT / 1000})`,
};

/** `--connect-timeout` in milliseconds, or the default. */
export function connectTimeoutOption(args: ParsedArgs, command: string): number {
  const timeout = secondsOption(args, 'connect-timeout', command);
  return timeout === undefined ? DEFAULT_CONNECT_TIMEOUT : timeout;
}

export const CONNECTION_OPTIONS: readonly OptionSpec[] = [
  ...DEVICE_OPTIONS,
  {
    name: 'endpoint',
    type: 'string',
    placeholder: 'WHERE',
    help: "with device credentials: 'product' (default), 'ipv6-test', 'x509' (the default with --cert), or HOST:PORT (e.g. '[::1]:8883')",
  },
  { name: 'region', type: 'string', placeholder: 'REGION', help: `with device credentials: ${ALIYUN_REGIONS.join(', ')} (default cn-shanghai)` },
  { name: 'host', short: 'h', type: 'string', placeholder: 'HOST', help: 'the broker to connect to (a name, or an IPv6 or IPv4 address)' },
  { name: 'port', short: 'p', type: 'string', placeholder: 'PORT', help: 'default 8883 over TLS, 1883 over TCP (the platform: 1883 with TLS)' },
  { name: 'tls', type: 'boolean', help: 'connect over TLS (the default)' },
  { name: 'tcp', type: 'boolean', help: 'connect over plain TCP: credentials travel in clear' },
  { name: 'cafile', type: 'string', placeholder: 'FILE', help: "PEM file of the CAs to trust (default Node's roots; the platform's bundle for platform hosts)" },
  { name: 'family', type: 'string', placeholder: '6|4|0', help: 'address family for the name lookup: 6 (default), 4, or 0 for either' },
  { name: 'client-id', short: 'i', type: 'string', placeholder: 'ID', help: 'client id (default aliot-<random>; with device credentials the bare device id, default PK.DN)' },
  { name: 'username', short: 'u', type: 'string', placeholder: 'USER', help: 'user name' },
  { name: 'password', short: 'P', type: 'string', secret: true, placeholder: 'PASSWORD', help: `password; better: set ${PASSWORD_ENV}, which stays out of shell history` },
  { name: 'keepalive', short: 'k', type: 'string', placeholder: 'SECONDS', help: 'keep alive (default 60; with device credentials 300, and 30..1200)' },
  ...CERTIFICATE_OPTIONS,
  CONNECT_TIMEOUT_OPTION,
  { name: 'debug', short: 'd', type: 'boolean', help: 'trace every packet on stderr (NODE_DEBUG=aliot does the same from inside the library)' },
];

/** What `pub` and `sub` connect with. */
export interface Connection {
  readonly options: MqttClientOptions;
  /** Signed in with a device's triple: the platform's limits apply. */
  readonly platform: boolean;
  /** `[::1]:8883 over TLS`, for messages. */
  readonly where: string;
  /** What the command learns of the connection as it goes, for the hints a failure gets. */
  readonly facts: ConnectionFacts;
  /** `--debug`: trace every packet on stderr, from the client's packet events. */
  readonly trace: boolean;
}

interface Settings {
  readonly options: MqttClientOptions;
  readonly platform: boolean;
  /** The platform's readings apply: device credentials, or a platform clientId given by hand. */
  readonly platformHints: boolean;
  readonly port: number;
  readonly where: string;
}

const PLAIN_ONLY = ['username', 'password'] as const;

/**
 * The client options the command line asks for; UsageError for contradictions and gaps.
 * `wait` (ms) is how long the whole command may take (`sub -W`), which bounds connecting too.
 */
export function resolveConnection(args: ParsedArgs, io: Io, command: string, wait?: number): Connection {
  const settings = clientSettings(args, io, command);
  const limit = connectTimeoutOption(args, command);
  const bounded = wait !== undefined && wait < limit;
  const facts: ConnectionFacts = {
    where: settings.where,
    transport: settings.options.transport ?? 'tls',
    port: settings.port,
    platform: settings.platformHints,
    connectTimeout: bounded ? wait : limit,
    timeoutFlag: bounded ? 'timeout' : 'connect-timeout',
    opened: false,
    accepted: false,
    received: new Uint8Array(0),
  };
  return {
    platform: settings.platform,
    where: settings.where,
    facts,
    trace: args.flag('debug'),
    options: { ...settings.options, connectTimeout: facts.connectTimeout },
  };
}

/**
 * A client for `connection`, traced with `--debug`, that notes in its facts what each connection
 * came to: whether the CONNACK accepted it, and the first bytes the server sent before it did
 * (enough to tell a TLS record when plain MQTT was expected). All from the client's own events:
 * the socket is left alone.
 */
export function createClient(connection: Connection, io: Io): MqttClient {
  const client = new MqttClient(connection.options);
  if (connection.trace) traceClient(client, io);
  const { facts } = connection;
  client.on('connect', () => {
    facts.accepted = true;
  });
  client.on('close', (_error, details) => {
    facts.opened = true;
    facts.accepted = details.accepted;
    facts.received = details.received.subarray(0, RECEIVED_KEPT);
  });
  return client;
}

function clientSettings(args: ParsedArgs, io: Io, command: string): Settings {
  const help = `run 'aliot ${command} --help'`;
  if (args.flag('tls') && args.flag('tcp')) throw new UsageError('--tls and --tcp contradict each other; give one', help);
  const transport = args.flag('tcp') ? 'tcp' : 'tls';
  const family = choiceOption(args, 'family', ['6', '4', '0'] as const, command);
  const port = integerOption(args, 'port', 1, 65535, command);
  const keepalive = integerOption(args, 'keepalive', 0, 65535, command);
  const ca = readCaFile(args.string('cafile'), help);
  const certificate = certificateOptions(args, io, help);
  // A certificate without -h is a platform device of an X.509 product, as --product-key is one with a secret.
  const platform =
    args.string('product-key') !== undefined ||
    args.string('device-name') !== undefined ||
    (certificate !== undefined && args.string('host') === undefined);
  const base = {
    reconnect: false,
    ...(family === undefined ? {} : { family: Number(family) as 0 | 4 | 6 }),
    ...certificate,
  };
  if (platform && certificate !== undefined) {
    for (const name of [...PLAIN_ONLY, 'device-secret']) {
      if (args.string(name) !== undefined) {
        throw new UsageError(`--${name} does not go with --cert: a platform device authenticates by its certificate or its secret, not both`, help);
      }
    }
    if (transport === 'tcp') throw new UsageError('--cert needs TLS: the certificate is presented in the TLS handshake', help);
    const productKey = args.string('product-key');
    const deviceName = args.string('device-name');
    if ((productKey === undefined) !== (deviceName === undefined)) {
      throw new UsageError('with --cert, give both --product-key and --device-name (the identity the platform sent), or neither', help);
    }
    const endpoint = endpointOption(args, port, help, 'x509');
    if (endpoint === 'product' || endpoint === 'ipv6-test') {
      throw new UsageError(`--endpoint ${String(endpoint)} takes devices with a secret; a certificate device connects to 'x509' (the default) or HOST:PORT`, help);
    }
    const region = choiceOption(args, 'region', ALIYUN_REGIONS, command);
    const c = x509ConnectionOptions({ productKey, deviceName, endpoint: endpoint as X509EndpointChoice, region, keepalive, clientId: args.string('client-id'), ca });
    return {
      platform: true,
      platformHints: true,
      port: c.port,
      where: `${formatHost(c.host)}:${c.port} over TLS with a client certificate`,
      options: {
        ...c,
        ...base,
        family: base.family ?? c.family,
        maxOutgoingPacketSize: PLATFORM_LIMITS.maxPacketBytes,
        connackHint: cliX509ConnackHint,
      },
    };
  }
  if (platform) {
    for (const name of PLAIN_ONLY) {
      if (args.string(name) !== undefined) {
        throw new UsageError(`--${name} does not go with device credentials: they sign the user name and password`, help);
      }
    }
    const productKey = args.string('product-key');
    const deviceName = args.string('device-name');
    if (productKey === undefined || deviceName === undefined) {
      throw new UsageError('device credentials need both --product-key and --device-name', help);
    }
    const endpoint = endpointOption(args, port, help, 'product');
    if (endpoint === 'x509') {
      throw new UsageError('--endpoint x509 authenticates devices by certificate: give --cert and --key (and no device secret)', help);
    }
    const region = choiceOption(args, 'region', ALIYUN_REGIONS, command);
    const secret = deviceSecret(args, io, command);
    const c = deviceConnectionOptions({
      productKey,
      deviceName,
      deviceSecret: secret,
      endpoint,
      region,
      transport,
      keepalive,
      clientId: args.string('client-id'),
      ca,
    });
    return {
      platform: true,
      platformHints: true,
      port: c.port,
      where: `${formatHost(c.host)}:${c.port} over ${c.transport.toUpperCase()}`,
      options: {
        ...c,
        ...base,
        family: base.family ?? c.family,
        maxOutgoingPacketSize: PLATFORM_LIMITS.maxPacketBytes,
        connackHint: cliConnackHint,
      },
    };
  }
  for (const name of ['endpoint', 'region']) {
    if (args.string(name) !== undefined) throw new UsageError(`--${name} needs device credentials (--product-key, --device-name)`, help);
  }
  const host = args.string('host');
  if (host === undefined) {
    throw new UsageError('say where to connect: -h HOST for a broker, or --product-key and --device-name for the platform', help);
  }
  const clientId = args.string('client-id') ?? `aliot-${randomBytes(4).toString('hex')}`;
  const username = args.string('username');
  const password = args.string('password') ?? io.env[PASSWORD_ENV];
  if (password !== undefined && username === undefined) {
    throw new UsageError('a password needs a user name (-u) as well [MQTT-3.1.2-22]', help);
  }
  const parsed = parseClientId(clientId);
  const shownPort = port ?? (transport === 'tls' ? 8883 : 1883);
  return {
    platform: false,
    platformHints: parsed.ok,
    port: shownPort,
    where: `${formatHost(host)}:${shownPort} over ${transport.toUpperCase()}`,
    options: {
      ...base,
      host,
      ...(port === undefined ? {} : { port }),
      transport,
      ...(ca === undefined ? {} : { ca }),
      clientId,
      ...(username === undefined ? {} : { username }),
      ...(password === undefined ? {} : { password }),
      ...(keepalive === undefined ? {} : { keepalive }),
      // Platform credentials given by hand (-i/-u/-P from `aliot sign`) still get the platform's
      // reading of a refusal.
      ...(parsed.ok ? { connackHint: cliConnackHint } : {}),
    },
  };
}

function formatHost(host: string): string {
  return isIP(host) === 6 ? `[${host}]` : host;
}

/**
 * `--cert` and `--key` as the client's options, the passphrase from the environment; `undefined`
 * without them. The library checks the files' content; here, that both are given and readable.
 */
function certificateOptions(args: ParsedArgs, io: Io, help: string): { cert: Buffer; key: Buffer; passphrase?: string } | undefined {
  const certFile = args.string('cert');
  const keyFile = args.string('key');
  if (certFile === undefined && keyFile === undefined) return undefined;
  if (certFile === undefined) throw new UsageError('--key needs --cert: the certificate it is the key of', help);
  if (keyFile === undefined) throw new UsageError("--cert needs --key: the certificate's private key", help);
  const read = (flag: string, path: string): Buffer => {
    try {
      return readFileSync(path);
    } catch (cause) {
      throw new UsageError(`cannot read --${flag} ${path}: ${(cause as Error).message}`, help);
    }
  };
  const passphrase = io.env[KEY_PASSPHRASE_ENV];
  return { cert: read('cert', certFile), key: read('key', keyFile), ...(passphrase === undefined || passphrase === '' ? {} : { passphrase }) };
}

export function readCaFile(path: string | undefined, help: string): string | undefined {
  if (path === undefined) return undefined;
  try {
    return readFileSync(path, 'utf8');
  } catch (cause) {
    throw new UsageError(`cannot read --cafile ${path}: ${(cause as Error).message}`, help);
  }
}

/**
 * `--endpoint` (and `-h`/`-p`, which name a host with device credentials too) as the platform
 * profile's endpoint choice.
 */
export function endpointOption(args: ParsedArgs, port: number | undefined, help: string, fallback: 'product' | 'x509'): EndpointChoice | 'x509' {
  const text = args.string('endpoint');
  const host = args.string('host');
  if (text !== undefined && host !== undefined) throw new UsageError('give --endpoint or -h, not both', help);
  if (host !== undefined) return { host, port };
  if (text === undefined || text === 'product' || text === 'ipv6-test' || text === 'x509') {
    if (port !== undefined) throw new UsageError("-p goes with -h or --endpoint HOST:PORT; the platform's endpoints listen on 1883", help);
    return text ?? fallback;
  }
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(text);
  const hostPort = /^([^:]+)(?::(\d+))?$/.exec(text);
  const [, h, p] = bracketed ?? hostPort ?? (isIP(text) === 6 ? [text, text, undefined] : []);
  if (h === undefined) {
    throw new UsageError(`--endpoint ${JSON.stringify(text)} is not 'product', 'ipv6-test' or HOST:PORT (IPv6 in brackets: '[::1]:8883')`, help);
  }
  if (p !== undefined && port !== undefined) throw new UsageError('the port is given twice: in --endpoint and in -p', help);
  const endpointPort = p === undefined ? port : Number(p);
  if (endpointPort !== undefined && (endpointPort < 1 || endpointPort > 65535)) {
    throw new UsageError(`--endpoint port ${p} is outside 1..65535`, help);
  }
  return { host: h, port: endpointPort };
}
