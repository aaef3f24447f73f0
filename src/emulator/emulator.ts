/**
 * The local stand-in for the IoT Platform, put together: the listener hands each connection to a
 * session, admission decides on its CONNECT, presence keeps one connection per device, the router
 * carries PUBLISHes between subscriptions, and the cloud services play the platform's Alink side.
 * This module wires them and turns what happens into the emulator's events.
 */
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { X509_IDENTITY_TOPIC } from '../aliyun/x509.js';
import { ALINK_METHODS } from '../aliyun/alink/payload.js';
import type { AlinkReply } from '../aliyun/alink/payload.js';
import { encodedLength } from '../packet/codec.js';
import type { ConnectPacket } from '../packet/types.js';
import { isIP } from '../shared/builtins.js';
import { ConfigurationError } from '../shared/errors.js';
import { admit } from './admission.js';
import type { Admission, AdmissionCloud } from './admission.js';
import { Registrar } from './cloud/register.js';
import { GatewayCloud } from './cloud/gateway.js';
import { Rrpc } from './cloud/rrpc.js';
import { checkTimeout, CLOUD_QOS } from './cloud/service.js';
import type { CloudContext, CloudService } from './cloud/service.js';
import { ThingModel } from './cloud/thing.js';
import { NtpService } from './cloud/ntp.js';
import { ShadowService } from './cloud/shadow.js';
import { TagService } from './cloud/tags.js';
import { ConfigService } from './cloud/config.js';
import { dispatchPublish } from './cloud/dispatch.js';
import type { ConfigFile } from '../aliyun/services/config.js';
import { OtaJobs } from './cloud/ota.js';
import type { OtaJobInfo, OtaJobOptions } from './cloud/ota.js';
import { resolveHttpsOptions } from './http/options.js';
import type { ResolvedHttpsOptions } from './http/options.js';
import { HttpsEndpoints } from './https-endpoints.js';
import { boundMessage } from './echo.js';
import { EmulatorError } from './errors.js';
import { Listener } from './listener.js';
import { deviceKey, resolveEmulatorOptions } from './options.js';
import type { ResolvedEmulatorOptions } from './options.js';
import { Presence } from './presence.js';
import { DeviceRegistry } from './registry.js';
import type { OnlineDevice } from './presence.js';
import { Router } from './router.js';
import { Session } from './session.js';
import type { SessionHost, SessionOutcome } from './session.js';
import { SessionStore } from './session-store.js';
import type { Emulator, EmulatorShadow, EmulatorConnection, EmulatorEvents, EmulatorGateway, EmulatorOptions, SubDeviceEvent, TracedConnection } from './types.js';
import type { DeviceCertificate } from './x509/ca.js';
import { presentedCertificate } from './x509/admission.js';
import type { PresentedCertificate } from './x509/admission.js';

/** How long `sendPropertySet`, `callService` and `rrpc` wait for the device by default. */
export const DEFAULT_REPLY_TIMEOUT_MS = 10_000;

/**
 * Starts a local stand-in for the Alibaba Cloud IoT Platform: MQTT 3.1.1 over TLS (or plain TCP)
 * on the IPv6 loopback by default, built only on this project's codec and credential checks, so
 * that the demo and the tests run with no internet.
 *
 * It is a test and teaching fixture, **not a production broker**: it keeps Clean Session 0
 * sessions in memory only (bounded by the `sessions` option), lets any device subscribe to any
 * topic, and is built for a handful of devices. It refuses what the platform refuses (QoS 2, retained and will messages, keepalive
 * outside 30..1200 s, bad signatures) with the codes the platform uses; `docs/emulator.md` lists
 * every rule and where it differs from the real platform.
 *
 * @throws ConfigurationError for bad options; EmulatorError `listen-failed` when the address
 *   cannot be listened on (e.g. no IPv6 loopback: pass `host: '127.0.0.1'`).
 *
 * @example
 * const emulator = await startEmulator({ devices: [{ productKey: 'pk', deviceName: 'dev', deviceSecret: 's' }] });
 * // connect to emulator.host / emulator.port trusting emulator.ca, then:
 * const reply = await emulator.sendPropertySet('pk', 'dev', { LightSwitch: 1 });
 * await emulator.close();
 */
export async function startEmulator(options: EmulatorOptions): Promise<Emulator> {
  const resolved = await resolveEmulatorOptions(options);
  const platform = new LocalPlatform(resolved, await resolveHttpsOptions(options));
  await platform.listen();
  return platform;
}

class LocalPlatform extends EventEmitter<EmulatorEvents> implements Emulator {
  readonly ca: string;
  readonly #options: ResolvedEmulatorOptions;
  /** Every connection that has a session, accepted or not yet. */
  readonly #sessions = new Set<Session>();
  readonly #presence = new Presence((subDevice) => this.#gateway.displaced(subDevice));
  /** Sessions kept for devices that connected with Clean Session 0 and are gone. */
  readonly #store: SessionStore;
  readonly #router = new Router((topic, payload, qos, acknowledged) => this.#store.route(topic, payload, qos, acknowledged));
  readonly #registry: DeviceRegistry;
  readonly #thing: ThingModel;
  readonly #rrpc: Rrpc;
  readonly #shadow: ShadowService;
  readonly #registrar: Registrar;
  readonly #cloudAdmission: AdmissionCloud;
  /** Registration connections, with what to send them once CONNACK 0 is out. */
  readonly #registering = new WeakMap<Session, NonNullable<Extract<Admission, { ok: true }>['registration']>>();
  readonly #tags: TagService;
  readonly #config: ConfigService;
  readonly #ota: OtaJobs;
  readonly #https: HttpsEndpoints;
  readonly #gateway: GatewayCloud;
  readonly #services: readonly CloudService[];
  readonly #host: SessionHost;
  /** X.509 mode: the certificate each connection's device presented in the handshake, if any. */
  readonly #certificates = new WeakMap<Session, PresentedCertificate>();
  #listener: Listener | undefined;
  #closing: Promise<void> | undefined;

  constructor(options: ResolvedEmulatorOptions, httpsOptions: ResolvedHttpsOptions) {
    super();
    this.#options = options;
    this.ca = options.tls?.ca ?? '';
    this.#registry = new DeviceRegistry(options.devices.values());
    this.#store = new SessionStore({ clock: options.clock, limits: options.sessions, report: (event) => this.emit('session', event) });
    const cloud: CloudContext = {
      clock: options.clock,
      wallClock: options.wallClock,
      send: (topic, payload, qos) => {
        const bytes = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
        this.#router.route(topic, bytes, qos ?? (this.#gateway.isSubDeviceTopic(topic) ? 0 : CLOUD_QOS));
      },
      target: (productKey, deviceName, timeoutMs) => {
        this.#checkRunning();
        checkTimeout(timeoutMs);
        return this.#presence.find(productKey, deviceName);
      },
    };
    this.#thing = new ThingModel(cloud, options);
    this.#rrpc = new Rrpc(cloud);
    this.#ota = new OtaJobs(cloud, {
      online: (productKey, deviceName) => {
        try {
          return this.#presence.find(productKey, deviceName);
        } catch {
          return undefined;
        }
      },
      registered: (productKey, deviceName) => options.devices.has(deviceKey(productKey, deviceName)),
      https: () => this.#https.start(),
      changed: (event) => this.emit('ota', event),
    });
    const gatewayHost = { presence: this.#presence, registry: this.#registry, subDevice: (event: SubDeviceEvent) => this.emit('subdevice', event) };
    this.#gateway = new GatewayCloud(cloud, gatewayHost, options.topology);
    this.#registrar = new Registrar(this.#registry, options.products);
    const registrar = this.#registrar;
    this.#https = new HttpsEndpoints(options.host, httpsOptions, registrar, {
      checkRunning: () => this.#checkRunning(),
      closing: () => this.#closing !== undefined,
      log: (entry) => this.emit('http', entry),
      registered: (event) => this.emit('register', event),
    });
    this.#cloudAdmission = {
      registration: (connect, tls) => registrar.admitRegistration(connect, tls),
      token: (connect, tls) => registrar.admitToken(connect, tls),
      secrets: () => registrar.secrets(),
    };
    this.#shadow = new ShadowService(cloud, options, (device) => registrar.knows(device.productKey, device.deviceName));
    this.#tags = new TagService(cloud, options);
    this.#config = new ConfigService(cloud, options);
    this.#services = [this.#thing, this.#rrpc, this.#gateway, new NtpService(cloud, options), this.#shadow, this.#tags, this.#config];
    this.#host = {
      clock: options.clock,
      connectTimeout: options.connectTimeout,
      tracing: () => this.listenerCount('packet') > 0,
      admit: (session, connect) => this.#admit(session, connect),
      // A registration connection (authType=register) is over once it has its answer: it keeps nothing.
      resume: (session, clean) => this.#store.open(session.device!, clean || this.#registering.has(session)),
      opened: (session) => this.#opened(session),
      published: (session, topic, payload, qos) => this.#published(session, topic, payload, qos),
      ended: (session, outcome) => this.#ended(session, outcome),
      keep: (state, outcome) => this.#store.keep(state, outcome),
      trace: (event) => this.emit('packet', event),
    };
  }

  /** Listens; rejects with EmulatorError `listen-failed`. */
  async listen(): Promise<void> {
    this.#listener = await Listener.open(
      this.#options,
      {
        accept: (socket, connection, deadline) => this.#accept(socket, connection, deadline),
        lost: (connection, reason, message) => this.emit('refuse', { returnCode: undefined, reason, message: boundMessage(message), connection }),
      },
      (error) => this.emit('error', error),
    );
    // Products open to registration need the registration endpoint from the start.
    if (this.#https.wanted || this.#options.products.size > 0) {
      try {
        await this.#https.start();
      } catch (error) {
        await this.#listener.close();
        throw error;
      }
    }
  }

  get https(): { readonly url: string; readonly port: number; readonly ca: string } | undefined {
    return this.#https.info;
  }

  pushOtaJob(options: OtaJobOptions): Promise<OtaJobInfo> {
    try {
      this.#checkRunning();
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#ota.push(options);
  }

  cancelOtaJob(id: number): OtaJobInfo {
    return this.#ota.cancel(id);
  }

  otaJobs(): OtaJobInfo[] {
    return this.#ota.jobs();
  }

  otaVersions(productKey: string, deviceName: string): Record<string, string> {
    return this.#ota.versions(productKey, deviceName);
  }

  get host(): string {
    return this.#listener?.address.address ?? this.#options.host;
  }

  get port(): number {
    return this.#listener?.address.port ?? 0;
  }

  get url(): string {
    const host = isIP(this.host) === 6 ? `[${this.host}]` : this.host;
    return `${this.#options.tls ? 'mqtts' : 'mqtt'}://${host}:${this.port}`;
  }

  get gateway(): EmulatorGateway {
    return this.#gateway;
  }

  connections(): EmulatorConnection[] {
    return [...this.#router.sessions()].map((session) => session.device!);
  }

  async publish(topic: string, payload: Uint8Array | string, qos: 0 | 1 = 0): Promise<void> {
    this.#checkRunning();
    if (qos !== 0 && qos !== 1) {
      throw new ConfigurationError('qos', `got ${String(qos)}; the platform supports QoS 0 and 1 only`);
    }
    const bytes = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
    // Refuses a wildcard, empty or ill-formed topic before anything is sent.
    encodedLength({ type: 'publish', topic, payload: bytes, qos: 0, retain: false, dup: false });
    const acknowledged: Promise<void>[] = [];
    this.#router.route(topic, bytes, qos, acknowledged);
    await Promise.all(acknowledged);
  }

  sendPropertySet(productKey: string, deviceName: string, params: Record<string, unknown>, timeoutMs = DEFAULT_REPLY_TIMEOUT_MS): Promise<AlinkReply> {
    return this.#thing.request(productKey, deviceName, { kind: 'property-set' }, ALINK_METHODS.propertySet, params, timeoutMs);
  }

  callService(
    productKey: string,
    deviceName: string,
    identifier: string,
    params: Record<string, unknown>,
    timeoutMs = DEFAULT_REPLY_TIMEOUT_MS,
  ): Promise<AlinkReply> {
    const method = ALINK_METHODS.serviceCall(identifier);
    return this.#thing.request(productKey, deviceName, { kind: 'service-call', identifier }, method, params, timeoutMs);
  }

  async rrpc(productKey: string, deviceName: string, payload: Uint8Array | string, timeoutMs = DEFAULT_REPLY_TIMEOUT_MS): Promise<Uint8Array> {
    return this.#rrpc.call(productKey, deviceName, payload, timeoutMs);
  }

  shadow(productKey: string, deviceName: string): EmulatorShadow {
    return this.#shadow.read({ productKey, deviceName });
  }

  updateShadow(productKey: string, deviceName: string, desired: Record<string, unknown>, options: { version?: number; deltaUpdate?: boolean } = {}): number {
    this.#checkRunning();
    return this.#shadow.updateDesired({ productKey, deviceName }, desired, options);
  }

  tags(productKey: string, deviceName: string): Record<string, string> {
    return this.#tags.read({ productKey, deviceName });
  }

  setConfig(productKey: string, config: ConfigFile | undefined): void {
    this.#config.set(productKey, config);
  }

  publishConfig(productKey: string, content: string | Uint8Array, options: { configId?: string; signMethod?: 'sha256' | 'md5' } = {}): Promise<ConfigFile> {
    try {
      this.#checkRunning();
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#https.configFile(content, options, (config) => this.#config.set(productKey, config));
  }

  pushConfig(productKey: string, deviceName: string, config?: ConfigFile, timeoutMs = DEFAULT_REPLY_TIMEOUT_MS): Promise<AlinkReply> {
    return this.#config.push(productKey, deviceName, config, timeoutMs);
  }

  issueCertificate(productKey: string, deviceName: string): DeviceCertificate {
    const ca = this.#options.x509;
    if (ca === undefined) throw new EmulatorError('x509-off', 'the emulator is not in X.509 mode: start it with x509: true to issue device certificates');
    if (!this.#options.devices.has(deviceKey(productKey, deviceName))) {
      throw new EmulatorError('not-registered', `device ${String(deviceName)} of product ${String(productKey)} is not registered: add it to devices first`);
    }
    return ca.issue({ productKey, deviceName });
  }

  close(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  async #shutdown(): Promise<void> {
    // Before the sessions end, so that waiting requests learn the emulator closed, not that the device left.
    const error = new EmulatorError('closed', 'the emulator was closed before the device answered');
    for (const service of this.#services) service.closing(error);
    for (const session of [...this.#sessions]) session.shutdown();
    this.#store.close(error);
    this.#ota.closing();
    await Promise.all([this.#listener?.close(), this.#https.close()]);
  }

  #checkRunning(): void {
    if (this.#closing !== undefined) throw new EmulatorError('closed', 'the emulator is closed');
  }

  #accept(socket: Socket, connection: TracedConnection, deadline: number): void {
    const session = new Session(connection, socket, this.#host, deadline);
    const ca = this.#options.x509;
    const presented = ca === undefined ? undefined : presentedCertificate(socket as TLSSocket, ca);
    if (presented !== undefined) this.#certificates.set(session, presented);
    this.#sessions.add(session);
  }

  #admit(session: Session, connect: ConnectPacket): Admission {
    const admission = admit(connect, this.#options, this.#registry, this.#certificates.get(session), this.#cloudAdmission);
    if (!admission.ok) return admission;
    if (admission.registration !== undefined) {
      // A registration connection is nobody's session: it must not kick the device's own connection.
      this.#registering.set(session, admission.registration);
      return admission;
    }
    this.#presence.claim(session, admission.productKey, admission.deviceName);
    this.#registrar.connected(admission.productKey, admission.deviceName);
    return admission;
  }

  #opened(session: Session): void {
    const registration = this.#registering.get(session);
    if (registration === undefined) {
      this.#router.add(session);
      const device = session.device!;
      // As the platform does for a certificate device, on every connection: who it is, no subscription needed.
      if (device.authentication === 'certificate') {
        const identity = JSON.stringify({ productKey: device.productKey, deviceName: device.deviceName });
        session.deliver(X509_IDENTITY_TOPIC, Buffer.from(identity, 'utf8'), 0);
      }
      this.emit('connect', device);
      return;
    }
    // The platform pushes the answer without a subscription, then closes the connection (C Link SDK
    // 4.x dynreg-mqtt reads it from any PUBLISH on /ext/register or /ext/regnwl).
    const { productKey, deviceName } = session.device!;
    session.deliver(registration.topic, Buffer.from(registration.payload, 'utf8'), 0);
    this.emit('register', { productKey, deviceName, authType: registration.authType });
    session.kick();
  }

  #published(session: Session, topic: string, payload: Uint8Array, qos: 0 | 1): void {
    // Not back to the publisher (a sub-device's messages are its gateway's connection's): see router.ts.
    this.#router.route(topic, payload, qos, undefined, session);
    const device: OnlineDevice = this.#presence.of(session)!;
    this.#ota.published(device, topic, payload);
    dispatchPublish(this.#services, this.#gateway, device, topic, payload);
  }

  #ended(session: Session, outcome: SessionOutcome): void {
    this.#sessions.delete(session);
    this.#router.delete(session);
    const connection = session.traced;
    const message = boundMessage(outcome.message);
    if (!outcome.accepted) {
      this.emit('refuse', { returnCode: outcome.returnCode, reason: outcome.reason, message, connection });
      return;
    }
    this.#gateway.gatewayGone(this.#presence.release(session));
    const { productKey, deviceName, clientId } = session.device!;
    const error = new EmulatorError('disconnected', `device ${deviceName} of product ${productKey} disconnected (${outcome.reason}) before answering`);
    for (const service of this.#services) service.disconnected(session, error);
    // A registration connection is closed by the platform once answered: that is its end, not a kick.
    const registered = this.#registering.has(session) && outcome.reason === 'kicked';
    const reason = registered ? 'registered' : outcome.reason;
    this.emit('disconnect', { productKey, deviceName, clientId, reason, message: registered ? 'the platform answered the registration and closed the connection' : message, connection });
  }
}
