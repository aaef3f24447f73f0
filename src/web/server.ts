/**
 * `aliot web`'s server: the local stand-in, the page's demo device and a small HTTP server
 * (node:http, no framework) on the loopback that serves the page, streams the session feed and
 * answers the page's two kinds of request (run a demo step, sign credentials).
 *
 * It is for the person at this machine only. It listens on a loopback address and nothing else;
 * it answers only requests addressed to a loopback name (a web page elsewhere cannot reach it
 * by DNS rebinding); it takes POSTs only as JSON from its own page (another site's page cannot
 * submit to it); it serves its own files from a table, never from a path built from the URL; and
 * everything it holds for viewers is bounded.
 */
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { startEmulator } from '../emulator/emulator.js';
import type { Emulator, EmulatorDevice } from '../emulator/types.js';
import { isIP } from '../shared/builtins.js';
import { ConfigurationError } from '../shared/errors.js';
import { signCredentials } from '../sign/credentials.js';
import { DemoDevice, isStepName, StepError, WEB_DEMO_DEVICE } from './demo-device.js';
import { DEFAULT_HISTORY, SessionFeed } from './feed.js';
import type { HistoryLimits } from './feed.js';
import { signingSteps, WORKED_EXAMPLE } from './signing.js';
import { loadPage, PAGE_DIRECTORY } from './static-files.js';
import type { StaticFile } from './static-files.js';
import { Viewers } from './viewers.js';

/** A second device the stand-in knows, public too, for the user's own tools (`aliot sub`, mosquitto_sub). */
export const WEB_GUEST_DEVICE: Readonly<EmulatorDevice> = Object.freeze({ productKey: 'a1DemoProd', deviceName: 'sensor', deviceSecret: 'demo-sensor-secret' });

/** Largest request body taken (a signing request is a few hundred bytes). */
export const MAX_BODY_BYTES = 16 * 1024;
/** Default for {@link WebOptions.maxViewers}. */
export const DEFAULT_MAX_VIEWERS = 16;

/** `src/web/`, `dist/web/` and `dist/pkg/` all sit two levels below the package root. */
const LOOPBACK_CA_FILE = fileURLToPath(new URL('../../certs/loopback/ca.pem', import.meta.url));

export interface WebOptions {
  /** A loopback address to serve the page on: `::1` (default) or one in 127.0.0.0/8. */
  readonly host?: string | undefined;
  /** Default 0: a free port. */
  readonly port?: number | undefined;
  /** The stand-in's port; default 0: a free one. It listens on the same address as the page. */
  readonly mqttPort?: number | undefined;
  /** Devices the stand-in knows besides the page's demo device and the guest device. */
  readonly devices?: readonly EmulatorDevice[] | undefined;
  readonly history?: HistoryLimits | undefined;
  /** Pages open at once; default {@link DEFAULT_MAX_VIEWERS}. */
  readonly maxViewers?: number | undefined;
  /** Where the page's files are; default the built page, dist/web/page/. */
  readonly pageDirectory?: string | undefined;
}

export interface WebServer {
  /** The page's address, e.g. `http://[::1]:8080/`. */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  readonly emulator: Emulator;
  readonly feed: SessionFeed;
  readonly demo: DemoDevice;
  /** Ends the demo device, the page's streams, the stand-in and the server. */
  close(): Promise<void>;
}

/** `::1`, or an address in 127.0.0.0/8. */
export function isLoopbackAddress(address: string): boolean {
  if (address === '::1') return true;
  return isIP(address) === 4 && address.startsWith('127.');
}

/**
 * Starts the stand-in and the page's server.
 *
 * @throws ConfigurationError for a host that is not a loopback address; Error when the page is
 *   not built; the stand-in's EmulatorError `listen-failed`; the server's listen error.
 */
export async function startWeb(options: WebOptions = {}): Promise<WebServer> {
  const host = options.host ?? '::1';
  if (!isLoopbackAddress(host)) {
    throw new ConfigurationError('host', `got ${JSON.stringify(host)}; the page serves this machine only: use ::1 or 127.0.0.1`);
  }
  const files = loadPage(options.pageDirectory ?? PAGE_DIRECTORY);
  const emulator = await startEmulator({
    devices: [{ ...WEB_DEMO_DEVICE }, { ...WEB_GUEST_DEVICE }, ...(options.devices ?? []).map((d) => ({ ...d }))],
    host,
    port: options.mqttPort ?? 0,
  });
  try {
    const app = new WebApp(emulator, files, options);
    await app.listen(host, options.port ?? 0);
    return app;
  } catch (error) {
    await emulator.close();
    throw error;
  }
}

class WebApp implements WebServer {
  readonly feed: SessionFeed;
  readonly demo: DemoDevice;
  readonly #viewers: Viewers;
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  #closing: Promise<void> | undefined;

  constructor(
    readonly emulator: Emulator,
    private readonly files: ReadonlyMap<string, StaticFile>,
    options: WebOptions,
  ) {
    this.feed = new SessionFeed(options.history ?? DEFAULT_HISTORY);
    // The feed first: it records a packet before the demo device reacts to it.
    this.feed.watch(emulator);
    // Tells a page that reconnects whether it is talking to the same server (event numbers go on) or a new one.
    const instance = `${Date.now().toString(36)}-${process.pid}`;
    this.#viewers = new Viewers(this.feed, options.maxViewers ?? DEFAULT_MAX_VIEWERS, () => ({ instance, standIn: emulator.url }));
    this.demo = new DemoDevice(emulator, this.feed, (state) => this.#viewers.state(state));
    this.#viewers.state(this.demo.state);
    this.#server = createServer((req, res) => this.#handle(req, res));
    this.#server.on('connection', (socket) => {
      // Defence in depth: the address listened on admits only this machine anyway.
      if (!isLoopbackAddress(socket.remoteAddress ?? '')) {
        socket.destroy();
        return;
      }
      this.#sockets.add(socket);
      socket.once('close', () => this.#sockets.delete(socket));
    });
  }

  async listen(host: string, port: number): Promise<void> {
    this.#server.listen({ host, port });
    await once(this.#server, 'listening');
  }

  get host(): string {
    return (this.#server.address() as AddressInfo).address;
  }

  get port(): number {
    return (this.#server.address() as AddressInfo).port;
  }

  get url(): string {
    return `http://${isIP(this.host) === 6 ? `[${this.host}]` : this.host}:${this.port}/`;
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
      this.#viewers.close();
      await this.demo.close();
      await this.emulator.close();
      for (const socket of this.#sockets) socket.destroy();
      await closed;
    })();
    return this.#closing;
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Referrer-Policy', 'no-referrer');
    res.setHeader('Cross-Origin-Resource-Policy', 'same-origin');
    res.setHeader('X-Frame-Options', 'DENY');
    res.setHeader(
      'Content-Security-Policy',
      "default-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    );
    const target = req.url ?? '';
    // Only origin-form targets (`/path?query`); `http://host/path` and `*` are not for this server.
    if (!target.startsWith('/')) return text(res, 400, 'bad request target\n');
    if (!this.#hostAllowed(req.headers.host)) {
      return text(res, 421, 'this server answers only requests for [::1], 127.0.0.1 or localhost\n');
    }
    const path = target.split('?', 1)[0]!;
    const method = req.method ?? '';
    const file = this.files.get(path);
    if (file !== undefined) {
      if (method !== 'GET' && method !== 'HEAD') return notAllowed(res, 'GET, HEAD');
      res.writeHead(200, { 'Content-Type': file.type, 'Content-Length': file.body.length, 'Cache-Control': 'no-cache' });
      res.end(method === 'HEAD' ? undefined : file.body);
      return;
    }
    if (path === '/events') {
      if (method !== 'GET') return notAllowed(res, 'GET');
      this.#viewers.serve(req, res);
      return;
    }
    if (path === '/api/info') {
      if (method !== 'GET') return notAllowed(res, 'GET');
      json(res, 200, this.#info());
      return;
    }
    if (path === '/api/sign' || path.startsWith('/api/steps/')) {
      if (method !== 'POST') return notAllowed(res, 'POST');
      this.#post(req, res, path).catch(() => {
        // A bug of this server's, not the caller's: answer 500 (its message could say too much), and keep serving.
        if (res.headersSent) res.destroy();
        else json(res, 500, { error: 'internal error' });
      });
      return;
    }
    text(res, 404, 'not found\n');
  }

  /** The Host header names this server by a loopback name and its own port. */
  #hostAllowed(host: string | undefined): boolean {
    if (host === undefined) return false;
    const match = /^(\[[0-9a-f:.]+\]|[^:[\]]+)(?::(\d+))?$/i.exec(host);
    if (match === null || (match[2] !== undefined && Number(match[2]) !== this.port)) return false;
    const name = match[1]!.toLowerCase();
    const bare = name.startsWith('[') ? name.slice(1, -1) : name;
    return name === 'localhost' || isLoopbackAddress(bare);
  }

  async #post(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    const origin = req.headers.origin;
    if (origin !== undefined && !this.#hostAllowed(originHost(origin))) {
      return json(res, 403, { error: 'requests from another site are refused' });
    }
    // A JSON body cannot come from a plain HTML form, and a script elsewhere needs a CORS preflight that this server never grants.
    if (!/^application\/json\s*(;|$)/i.test(req.headers['content-type'] ?? '')) {
      return json(res, 415, { error: 'send the body as application/json' });
    }
    let body: unknown;
    try {
      body = JSON.parse(await readBody(req));
    } catch (error) {
      if (error instanceof BodyTooLarge) return json(res, 413, { error: `the body is over ${MAX_BODY_BYTES} bytes` });
      return json(res, 400, { error: 'the body is not JSON' });
    }
    if (path === '/api/sign') {
      try {
        json(res, 200, signingSteps(body));
      } catch (error) {
        if (!(error instanceof ConfigurationError)) throw error;
        json(res, 400, { error: error.message, field: error.field });
      }
      return;
    }
    const name = path.slice('/api/steps/'.length);
    if (!isStepName(name)) return json(res, 404, { error: `no step ${JSON.stringify(name.slice(0, 40))}` });
    try {
      json(res, 200, { result: await this.demo.run(name) });
    } catch (error) {
      if (!(error instanceof StepError)) throw error;
      json(res, error.code === 'failed' ? 502 : 409, { error: error.message, code: error.code });
    }
  }

  #info(): Record<string, unknown> {
    const { host, port } = this.emulator;
    const guest = WEB_GUEST_DEVICE;
    // The guest's secret is public, so its password may be shown; the timestamp is left out so the command stays valid.
    const credentials = signCredentials({ ...guest, timestamp: null });
    const topic = `/sys/${guest.productKey}/${guest.deviceName}/thing/service/#`;
    const endpoint = `${isIP(host) === 6 ? `[${host}]` : host}:${port}`;
    return {
      standIn: { url: this.emulator.url, host, port, caFile: LOOPBACK_CA_FILE },
      demoDevice: { ...WEB_DEMO_DEVICE },
      guest: { ...guest, ...{ clientId: credentials.clientId, username: credentials.username, password: credentials.password } },
      commands: {
        aliot: `ALIOT_DEVICE_SECRET=${guest.deviceSecret} aliot sub --product-key ${guest.productKey} --device-name ${guest.deviceName} --endpoint ${quote(endpoint)} --cafile ${quote(LOOPBACK_CA_FILE)} -t ${quote(topic)} -q 1`,
        mosquitto: `mosquitto_sub -V mqttv311 -h ${host} -p ${port} --cafile ${quote(LOOPBACK_CA_FILE)} -i ${quote(credentials.clientId)} -u ${quote(credentials.username)} -P ${credentials.password} -k 60 -q 1 -t ${quote(topic)}`,
      },
      workedExample: WORKED_EXAMPLE,
    };
  }
}

/** `host[:port]` of an Origin header, or undefined for `null` and anything unreadable. */
function originHost(origin: string): string | undefined {
  try {
    return new URL(origin).host;
  } catch {
    return undefined;
  }
}

class BodyTooLarge extends Error {}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) {
      req.resume();
      throw new BodyTooLarge();
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** A word for a POSIX shell: as it is when it is plain, else in single quotes. */
function quote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, "'\\''")}'`;
}

function text(res: ServerResponse, status: number, body: string): void {
  send(res, status, 'text/plain; charset=utf-8', body);
}

function json(res: ServerResponse, status: number, body: unknown): void {
  send(res, status, 'application/json; charset=utf-8', JSON.stringify(body));
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  const bytes = Buffer.from(body, 'utf8');
  res.writeHead(status, { 'Content-Type': type, 'Content-Length': bytes.length, 'Cache-Control': 'no-store' });
  res.end(bytes);
}

function notAllowed(res: ServerResponse, allow: string): void {
  res.setHeader('Allow', allow);
  text(res, 405, `method not allowed; use ${allow}\n`);
}
