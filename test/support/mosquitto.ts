/**
 * Real-broker tests: starts a private mosquitto on [::1] with a TLS and a plain listener, on
 * free ports, with its own config, certificates and persistence in a temporary directory.
 *
 * ```ts
 * describeWithBroker('session against mosquitto', () => {
 *   let broker: Broker;
 *   beforeAll(async () => { broker = await startMosquitto(); });
 *   afterAll(() => broker.stop());
 *   it('connects', async () => {
 *     const socket = await openTransport({ host: broker.host, port: broker.tlsPort, ca: broker.ca });
 *     // ...
 *   });
 * });
 * ```
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { accessSync, constants, copyFileSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo, Server } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as delay } from 'node:timers/promises';
import { connect as tlsConnect } from 'node:tls';
import { describe, it } from 'vitest';

/** A running broker. */
export interface Broker {
  readonly host: '::1';
  /** TLS listener (TLS 1.2, certs/loopback/server.pem). */
  readonly tlsPort: number;
  /** Plain TCP listener. */
  readonly tcpPort: number;
  /** The CA that signed the broker's certificate, in PEM: pass it as `ca`. */
  readonly ca: string;
  /** The broker's own directory (config, certificates, database); removed by stop(). */
  readonly directory: string;
  /** What the broker has logged so far (the last 64 KiB), for failure messages. */
  log(): string;
  /**
   * Stops the broker (SIGTERM, so a persistent one saves its database) and starts it again on
   * the same ports with the same directory. For tests of sessions that outlive the broker.
   */
  restart(): Promise<void>;
  /** Stops the broker, waits for it to exit and removes its directory. Safe to call twice. */
  stop(): Promise<void>;
}

/** Options for {@link startMosquitto}. */
export interface MosquittoOptions {
  /** Keep sessions and queued messages in a database across {@link Broker.restart}. Default false. */
  persistence?: boolean;
  /**
   * Lines appended to the config, after the TLS listener: global options apply everywhere,
   * listener options to the TLS listener (start a new `listener` line for anything else).
   */
  extraConfig?: string;
  /**
   * The TLS listener's `tls_version`, default `'tlsv1.2'` as on the platform. mosquitto reads it
   * as a floor: `'tlsv1.2'` still lets a client negotiate TLS 1.3.
   */
  tlsVersion?: 'tlsv1.2' | 'tlsv1.3';
}

const repository = new URL('../../', import.meta.url);
const loopbackFile = (name: string): string => fileURLToPath(new URL(`certs/loopback/${name}`, repository));

const INSTALL_HINT = 'install it with `apt-get install mosquitto` (Debian/Ubuntu)';
const FALLBACK_LOCATIONS = ['/usr/sbin/mosquitto', '/usr/local/sbin/mosquitto'];
const READY_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 5_000;
const PORT_ATTEMPTS = 5;
const LOG_LIMIT = 64 * 1024;

/**
 * Where the mosquitto executable is: the first on PATH, else the usual sbin locations (Debian
 * installs it to /usr/sbin, which is not on every user's PATH).
 */
export function findMosquitto(env: NodeJS.ProcessEnv = process.env, fallbacks: readonly string[] = FALLBACK_LOCATIONS): string | undefined {
  return findExecutable('mosquitto', env, fallbacks);
}

function findExecutable(name: string, env: NodeJS.ProcessEnv, fallbacks: readonly string[]): string | undefined {
  const onPath = (env.PATH ?? '').split(delimiter).filter(Boolean).map((dir) => join(dir, name));
  return [...onPath, ...fallbacks].find(isExecutableFile);
}

/**
 * How to start the broker so that it dies with this process, however this process ends (Vitest
 * stops its workers with SIGTERM, which skips 'exit' handlers; a crash skips everything). On
 * Linux, util-linux's setpriv sets the parent-death signal and then runs mosquitto itself.
 */
function launchCommand(executable: string, config: string): [string, string[]] {
  const setpriv = process.platform === 'linux' ? findExecutable('setpriv', process.env, ['/usr/bin/setpriv']) : undefined;
  return setpriv === undefined
    ? [executable, ['-c', config]]
    : [setpriv, ['--pdeathsig', 'TERM', '--', executable, '-c', config]];
}

/** Whether real-broker tests can run here. */
export function mosquittoAvailable(): boolean {
  return findMosquitto() !== undefined;
}

/**
 * What a real-broker suite does: run when mosquitto is here; fail under CI, where a silent skip
 * would hide that the real-broker tests never ran; skip, saying why, on a developer's machine.
 */
export function brokerSuitePlan(available: boolean, env: NodeJS.ProcessEnv = process.env): 'run' | 'fail' | 'skip' {
  if (available) {
    return 'run';
  }
  const ci = env.CI;
  return ci !== undefined && ci !== '' && ci !== '0' && ci.toLowerCase() !== 'false' ? 'fail' : 'skip';
}

/**
 * `describe` for suites that need mosquitto. Without it the suite fails under CI and is skipped
 * elsewhere, with the reason and the install command in the suite's name.
 */
export function describeWithBroker(name: string, body: () => void): void {
  const plan = brokerSuitePlan(mosquittoAvailable());
  if (plan === 'run') {
    describe(name, body);
  } else if (plan === 'fail') {
    describe(name, () => {
      it('needs mosquitto', () => {
        throw new Error(`mosquitto was not found on PATH or in /usr/sbin, and CI must run the real-broker tests: ${INSTALL_HINT}`);
      });
    });
  } else {
    const reason = `mosquitto not found on PATH or in /usr/sbin; ${INSTALL_HINT}`;
    // The skip count alone is easy to miss in a summary; say why on stderr too.
    console.warn(`Skipping "${name}": ${reason}`);
    describe.skip(`${name} [skipped: ${reason}]`, body);
  }
}

/**
 * Brokers and directories still in use, cleaned up if the test process exits (process.exit or
 * an empty event loop) without stopping them. See launchCommand for the other ways to end.
 */
const running = new Set<ChildProcess>();
const directories = new Set<string>();
let exitHookInstalled = false;

function cleanUpOnExit(): void {
  if (exitHookInstalled) {
    return;
  }
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const child of running) {
      child.kill('SIGKILL');
    }
    for (const dir of directories) {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

/** Starts a broker and resolves once its TLS listener completes a handshake. */
export async function startMosquitto(options: MosquittoOptions = {}): Promise<Broker> {
  const executable = findMosquitto();
  if (executable === undefined) {
    throw new Error(`mosquitto is not installed: ${INSTALL_HINT}`);
  }
  cleanUpOnExit();
  const dir = mkdtempSync(join(tmpdir(), 'aliot-mosquitto-'));
  directories.add(dir);
  try {
    // Copies keep the config free of paths with spaces and readable whatever the checkout's permissions.
    for (const name of ['ca.pem', 'server.pem', 'server.key']) {
      copyFileSync(loopbackFile(name), join(dir, name));
    }
    const ca = readFileSync(join(dir, 'ca.pem'), 'utf8');
    let lastFailure: Error | undefined;
    for (let attempt = 0; attempt < PORT_ATTEMPTS; attempt += 1) {
      const { tcpPort, tlsPort } = await freePorts();
      const config = join(dir, 'mosquitto.conf');
      writeFileSync(config, configText(dir, tcpPort, tlsPort, options));
      const instance = new BrokerProcess(executable, config, tlsPort, ca);
      try {
        await instance.start();
      } catch (error) {
        lastFailure = error as Error;
        // Another process can take a port between our probe and the broker's bind: try others.
        if (instance.log().includes('Address already in use')) {
          continue;
        }
        throw error;
      }
      return broker(instance, dir, tcpPort, tlsPort, ca);
    }
    throw lastFailure ?? new Error('mosquitto could not bind free ports');
  } catch (error) {
    removeDirectory(dir);
    throw error;
  }
}

function removeDirectory(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  directories.delete(dir);
}

function broker(instance: BrokerProcess, dir: string, tcpPort: number, tlsPort: number, ca: string): Broker {
  let stopped = false;
  return {
    host: '::1',
    tlsPort,
    tcpPort,
    ca,
    directory: dir,
    log: () => instance.log(),
    restart: async () => {
      if (stopped) {
        throw new Error('this broker was stopped; start a new one');
      }
      await instance.stop();
      await instance.start();
    },
    stop: async () => {
      if (stopped) {
        return;
      }
      stopped = true;
      try {
        await instance.stop();
      } finally {
        removeDirectory(dir);
      }
    },
  };
}

function configText(dir: string, tcpPort: number, tlsPort: number, options: MosquittoOptions): string {
  return [
    '# Written by test/support/mosquitto.ts for one test run.',
    'per_listener_settings false',
    'allow_anonymous true',
    // Run as root, mosquitto would switch to the "mosquitto" user, which cannot use this directory.
    `user ${userInfo().username}`,
    `persistence ${options.persistence === true ? 'true' : 'false'}`,
    `persistence_location ${dir}/`,
    'log_dest stderr',
    'log_type error',
    'log_type warning',
    'log_type notice',
    'log_type information',
    'connection_messages true',
    'set_tcp_nodelay true',
    // Generous limits, so that tests of flow control see the client's limits, not the broker's.
    'max_inflight_messages 0',
    'max_queued_messages 100000',
    'max_queued_bytes 0',
    '',
    `listener ${tcpPort} ::1`,
    '',
    `listener ${tlsPort} ::1`,
    `cafile ${join(dir, 'ca.pem')}`,
    `certfile ${join(dir, 'server.pem')}`,
    `keyfile ${join(dir, 'server.key')}`,
    `tls_version ${options.tlsVersion ?? 'tlsv1.2'}`,
    '',
    options.extraConfig ?? '',
    '',
  ].join('\n');
}

/** One mosquitto executable run after another on the same config (a restart is a new process). */
class BrokerProcess {
  #child: ChildProcess | undefined;
  #log = '';

  constructor(
    private readonly executable: string,
    private readonly config: string,
    private readonly tlsPort: number,
    private readonly ca: string,
  ) {}

  log(): string {
    return this.#log;
  }

  async start(): Promise<void> {
    const [command, args] = launchCommand(this.executable, this.config);
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.#child = child;
    running.add(child);
    const append = (chunk: Buffer): void => {
      this.#log = (this.#log + chunk.toString('utf8')).slice(-LOG_LIMIT);
    };
    child.stdout?.on('data', append);
    child.stderr?.on('data', append);
    // 'close' rather than 'exit': it comes after the last of the log has been read.
    const ended = new Promise<string>((resolve) => {
      child.once('close', (code, signal) => {
        running.delete(child);
        resolve(`exited (${signal ?? `code ${code}`})`);
      });
      child.once('error', (error) => resolve(`could not be started (${error.message})`));
    });

    const deadline = Date.now() + READY_TIMEOUT_MS;
    for (;;) {
      const outcome = await Promise.race([ended, this.#handshake()]);
      if (outcome === true) {
        return;
      }
      if (typeof outcome === 'string') {
        throw new Error(`mosquitto ${outcome} before it was ready. Its log:\n${this.#log}`);
      }
      if (Date.now() > deadline) {
        await this.stop();
        throw new Error(`mosquitto did not accept TLS on [::1]:${this.tlsPort} within ${READY_TIMEOUT_MS} ms. Its log:\n${this.#log}`);
      }
      // No event says "listening"; connection attempts are the readiness check.
      await delay(25);
    }
  }

  /** Whether a TLS handshake with the broker completes now. */
  async #handshake(): Promise<boolean> {
    const socket = tlsConnect({ host: '::1', port: this.tlsPort, ca: this.ca });
    const timer = setTimeout(() => socket.destroy(new Error('handshake timed out')), 1_000);
    try {
      await once(socket, 'secureConnect');
      return true;
    } catch {
      return false;
    } finally {
      clearTimeout(timer);
      socket.destroy();
    }
  }

  async stop(): Promise<void> {
    const child = this.#child;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) {
      return;
    }
    const exited = once(child, 'close');
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
    try {
      await exited;
    } finally {
      clearTimeout(timer);
    }
  }
}

/** Two distinct ports on [::1] that were free a moment ago: both bound at once, then released. */
async function freePorts(): Promise<{ tcpPort: number; tlsPort: number }> {
  const servers = [createServer(), createServer()] as const;
  try {
    for (const server of servers) {
      server.listen({ host: '::1', port: 0, exclusive: true });
      await once(server, 'listening');
    }
    const port = (server: Server): number => (server.address() as AddressInfo).port;
    return { tcpPort: port(servers[0]), tlsPort: port(servers[1]) };
  } finally {
    await Promise.all(servers.filter((server) => server.listening).map((server) => close(server)));
  }
}

async function close(server: Server): Promise<void> {
  server.close();
  await once(server, 'close');
}

function isExecutableFile(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}
