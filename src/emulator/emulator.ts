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
import type { Admission } from './admission.js';
import { GatewayCloud } from './cloud/gateway.js';
import { Rrpc } from './cloud/rrpc.js';
import { checkTimeout, CLOUD_QOS } from './cloud/service.js';
import type { CloudContext, CloudService } from './cloud/service.js';
import { ThingModel } from './cloud/thing.js';
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
import type { Emulator, EmulatorConnection, EmulatorEvents, EmulatorGateway, EmulatorOptions, SubDeviceEvent, TracedConnection } from './types.js';
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
  const platform = new LocalPlatform(await resolveEmulatorOptions(options));
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
  readonly #gateway: GatewayCloud;
  readonly #services: readonly CloudService[];
  readonly #host: SessionHost;
  /** X.509 mode: the certificate each connection's device presented in the handshake, if any. */
  readonly #certificates = new WeakMap<Session, PresentedCertificate>();
  #listener: Listener | undefined;
  #closing: Promise<void> | undefined;

  constructor(options: ResolvedEmulatorOptions) {
    super();
    this.#options = options;
    this.ca = options.tls?.ca ?? '';
    this.#registry = new DeviceRegistry(options.devices.values());
    this.#store = new SessionStore({ clock: options.clock, limits: options.sessions, report: (event) => this.emit('session', event) });
    const cloud: CloudContext = {
      clock: options.clock,
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
    const gatewayHost = { presence: this.#presence, registry: this.#registry, subDevice: (event: SubDeviceEvent) => this.emit('subdevice', event) };
    this.#gateway = new GatewayCloud(cloud, gatewayHost, options.topology);
    this.#services = [this.#thing, this.#rrpc, this.#gateway];
    this.#host = {
      clock: options.clock,
      connectTimeout: options.connectTimeout,
      tracing: () => this.listenerCount('packet') > 0,
      admit: (session, connect) => this.#admit(session, connect),
      resume: (session, clean) => this.#store.open(session.device!, clean),
      opened: (session) => {
        this.#router.add(session);
        const device = session.device!;
        // As the platform does for a certificate device, on every connection: who it is, no subscription needed.
        if (device.authentication === 'certificate') {
          const identity = JSON.stringify({ productKey: device.productKey, deviceName: device.deviceName });
          session.deliver(X509_IDENTITY_TOPIC, Buffer.from(identity, 'utf8'), 0);
        }
        this.emit('connect', device);
      },
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
    await this.#listener?.close();
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
    const admission = admit(connect, this.#options, this.#registry, this.#certificates.get(session));
    if (admission.ok) this.#presence.claim(session, admission.productKey, admission.deviceName);
    return admission;
  }

  #published(session: Session, topic: string, payload: Uint8Array, qos: 0 | 1): void {
    this.#router.route(topic, payload, qos);
    const device: OnlineDevice = this.#presence.of(session)!;
    const kind = device.topics.parse(topic);
    if (kind !== undefined) {
      for (const service of this.#services) service.published(device, topic, kind, payload);
      return;
    }
    // Not one of its own thing-model topics: a gateway's request, or one of its sub-devices' topics.
    const subDevice = this.#gateway.received(device, topic, payload);
    const subKind = subDevice?.topics.parse(topic);
    if (subKind !== undefined) for (const service of this.#services) service.published(subDevice!, topic, subKind, payload);
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
    this.emit('disconnect', { productKey, deviceName, clientId, reason: outcome.reason, message, connection });
  }
}
