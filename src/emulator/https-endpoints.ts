/**
 * The stand-in's HTTPS side, beside its MQTT listener: the server is started once, on the
 * listener's host, when something first needs it (the `httpPort` option, a product open to
 * registration, an OTA job, a configuration file); it serves dynamic registration over HTTPS and
 * the configuration files `publishConfig` makes. OTA files are routed by cloud/ota.ts.
 */
import { REGISTER_PATH } from '../aliyun/register/https.js';
import type { ConfigFile } from '../aliyun/services/config.js';
import { nodeCrypto } from '../shared/builtins.js';
import { ConfigurationError } from '../shared/errors.js';
import type { Registrar } from './cloud/register.js';
import type { ResolvedHttpsOptions } from './http/options.js';
import { HttpsServer } from './http/server.js';
import type { HttpBodyAnswer, HttpLogEntry } from './http/server.js';
import type { RegisterEvent } from './types.js';

/** The largest registration form read: a form is a few hundred bytes. */
const REGISTER_FORM_MAX_BYTES = 4096;

/** What the HTTPS side needs of the emulator. */
export interface HttpsHost {
  /** Throws EmulatorError `closed` once the emulator is closing. */
  checkRunning(): void;
  /** Whether the emulator is closing (or closed). */
  closing(): boolean;
  /** A request ended: the `http` event. */
  log(entry: HttpLogEntry): void;
  /** A device registered over HTTPS: the `register` event. */
  registered(event: RegisterEvent): void;
}

export class HttpsEndpoints {
  readonly #host: string;
  readonly #options: ResolvedHttpsOptions;
  readonly #registrar: Registrar;
  readonly #emulator: HttpsHost;
  /** The HTTPS server, once something asked for it. */
  #https: Promise<HttpsServer> | undefined;
  #server: HttpsServer | undefined;

  constructor(host: string, options: ResolvedHttpsOptions, registrar: Registrar, emulator: HttpsHost) {
    this.#host = host;
    this.#options = options;
    this.#registrar = registrar;
    this.#emulator = emulator;
  }

  /** Whether the server starts with the emulator: asked for by `httpPort`. */
  get wanted(): boolean {
    return this.#options.port !== undefined;
  }

  /** The running server's address and CA, once it runs. */
  get info(): { readonly url: string; readonly port: number; readonly ca: string } | undefined {
    const server = this.#server;
    return server === undefined ? undefined : { url: server.url, port: server.port, ca: server.ca };
  }

  /** Starts the HTTPS server on the MQTT listener's host, once; later calls get the same one. */
  start(): Promise<HttpsServer> {
    this.#emulator.checkRunning();
    this.#https ??= HttpsServer.open({
      host: this.#host,
      port: this.#options.port ?? 0,
      cert: this.#options.cert,
      key: this.#options.key,
      ca: this.#options.ca,
      onLog: (entry) => this.#emulator.log(entry),
    }).then((server) => {
      this.#server = server;
      // Dynamic registration over HTTPS: the form is a few hundred bytes.
      server.route('POST', REGISTER_PATH, (request) => this.#registerOverHttps(request.body), { maxBody: REGISTER_FORM_MAX_BYTES });
      // Closed meanwhile: nothing else will close it.
      if (this.#emulator.closing()) void server.close();
      return server;
    });
    return this.#https;
  }

  #registerOverHttps(body: Buffer): HttpBodyAnswer {
    const answer = this.#registrar.answerForm(body.toString('utf8'));
    if (answer.registered !== undefined) this.#emulator.registered({ ...answer.registered, authType: 'https' });
    return { status: answer.status, headers: { 'content-type': 'application/json;charset=utf-8' }, body: answer.body };
  }

  /**
   * A configuration file served at an unguessable path, and its description for the devices;
   * `publish` hands the description to the configuration service before the file is served.
   */
  async configFile(content: string | Uint8Array, options: { configId?: string; signMethod?: 'sha256' | 'md5' }, publish: (config: ConfigFile) => void): Promise<ConfigFile> {
    if (typeof content !== 'string' && !(content instanceof Uint8Array)) {
      throw new ConfigurationError('content', 'give the configuration file as text or bytes');
    }
    const signMethod = options.signMethod ?? 'sha256';
    if (signMethod !== 'sha256' && signMethod !== 'md5') throw new ConfigurationError('signMethod', "use 'sha256' or 'md5'");
    const bytes = Buffer.from(typeof content === 'string' ? Buffer.from(content, 'utf8') : content);
    const configId = options.configId ?? nodeCrypto().randomBytes(16).toString('hex');
    const server = await this.start();
    // An unguessable path, as OSS signs its URLs: only a device told of the file fetches it.
    const path = `/config/${nodeCrypto().randomBytes(16).toString('hex')}`;
    const config: ConfigFile = {
      configId,
      configSize: bytes.length,
      sign: nodeCrypto().createHash(signMethod).update(bytes).digest('hex'),
      signMethod,
      url: `${server.url}${path}`,
      getType: 'file',
    };
    publish(config);
    server.route('GET', path, () => ({ status: 200, headers: { 'content-type': 'application/octet-stream' }, body: bytes }));
    return config;
  }

  /** Closes the server if it was started; never rejects. */
  close(): Promise<void> | undefined {
    return this.#https?.then((server) => server.close()).catch(() => undefined);
  }
}
