/**
 * The page's demo device: the steps of `aliot demo`, one button each, run by a real
 * `connectDevice` against the stand-in through a {@link CuttableLink}, so that the session view
 * draws a real session, lost connection and all. Every step first puts its title and what it
 * shows into the feed, then runs; what it came to (a reply's code, a round trip, an error)
 * follows as a note.
 */
import { connectDevice } from '../device/device.js';
import type { Device } from '../device/device-types.js';
import type { Emulator, EmulatorDevice, PacketEvent } from '../emulator/types.js';
import type { Packet, PublishPacket } from '../packet/types.js';
import type { SessionFeed } from './feed.js';
import { CuttableLink } from './link.js';

/** The page's device. Its secret is public: it protects nothing but a stand-in on the loopback. */
export const WEB_DEMO_DEVICE: Readonly<EmulatorDevice> = Object.freeze({ productKey: 'a1DemoProd', deviceName: 'lamp', deviceSecret: 'demo-lamp-secret' });

/** The platform's shortest Keep Alive, so that an idle wait shows the automatic PINGREQ within half a minute. */
export const DEMO_KEEPALIVE = 30;

/** Longest wait for a step's answer before the step reports failure. */
const STEP_TIMEOUT_MS = 15_000;
/** A step's traffic is over when no QoS 1 PUBLISH awaits its PUBACK and the wire has been quiet this long. */
const QUIET_MS = 30;
/** Never wait longer than this for a step's traffic to settle. */
const SETTLE_LIMIT_MS = 2000;

export const STEP_NAMES = ['connect', 'subscribe', 'post', 'property-set', 'ping', 'drop', 'disconnect'] as const;
export type StepName = (typeof STEP_NAMES)[number];

/** What the page's buttons need to know. */
export interface DemoState {
  /** The demo device's client state (`connected`, `waiting` to reconnect, ...), or `none` before connect and after disconnect. */
  readonly device: string;
  readonly subscribed: boolean;
  /** The step running now. */
  readonly busy: StepName | undefined;
}

/** A step that cannot run now (`busy`, `not-ready`) or that failed (`failed`). */
export class StepError extends Error {
  override readonly name = 'StepError';
  constructor(
    readonly code: 'busy' | 'not-ready' | 'failed',
    message: string,
  ) {
    super(message);
  }
}

interface Step {
  readonly title: string;
  readonly text: string;
  readonly run: (demo: DemoDevice) => Promise<string>;
}

const STEPS: Readonly<Record<StepName, Step>> = {
  connect: {
    title: 'Connect: TCP, TLS, then CONNECT and CONNACK',
    text:
      "The device opens TCP over IPv6 to the stand-in and does the TLS handshake, then sends CONNECT, always the first packet [MQTT-3.1.0-1]. Its clientId carries the platform's extension (securemode=2 because the transport is TLS, the sign method, a timestamp); the user name is deviceName&productKey; the password is the HMAC of those values keyed with the device secret (the signing panel shows how), and the secret itself never goes on the wire. Keep Alive is 30 s, the platform's minimum, and Clean Session is 0: the device asks the platform to keep its session. CONNACK with return code 0 accepts; its Session Present says whether a session was kept for this clientId [MQTT-3.2.2-2]: 0 the first time, 1 when the device comes back, since the stand-in keeps sessions for Clean Session 0 as the platform does (subscriptions included).",
    run: (demo) => demo.connect(),
  },
  subscribe: {
    title: 'Subscribe to the platform\'s topics for this device',
    text:
      'SUBSCRIBE asks, at QoS 1, for the replies to the device\'s posts (thing/event/+/post_reply), the cloud\'s property sets and service calls (thing/service/#) and RRPC requests. SUBACK carries the same packet identifier [MQTT-3.8.4-2] and one return code per filter, in order: the QoS granted [MQTT-3.9.3-1].',
    run: (demo) => demo.subscribe(),
  },
  post: {
    title: 'Post properties and get the reply',
    text:
      "The device publishes an Alink request (method thing.event.property.post, with an id) at QoS 1 on its property post topic. QoS 1 means at least once: the platform acknowledges the PUBLISH with a PUBACK carrying the same packet identifier [MQTT-4.3.2-2]. The answer to the request is a separate PUBLISH on .../post_reply with the same Alink id, which the device acknowledges in turn.",
    run: (demo) => demo.post(),
  },
  'property-set': {
    title: 'The cloud sets a property, the device answers',
    text:
      "The cloud side publishes thing.service.property.set on the device's property set topic, at QoS 1. The device acknowledges the PUBLISH, its handler applies the values, and it answers on .../set_reply with the request's id. The device is subscribed to thing/service/#, so its own answer comes back to it too; it ignores it.",
    run: (demo) => demo.propertySet(),
  },
  ping: {
    title: 'Keepalive: PINGREQ and PINGRESP',
    text:
      'A client must send something at least every Keep Alive seconds [MQTT-3.1.2-23]; when it has nothing to say it sends PINGREQ, and the server answers PINGRESP [MQTT-3.12.4-1]. This step sends one now. Leave the device idle for about 30 s and the client sends one by itself: the gap before it shows on the timeline.',
    run: (demo) => demo.ping(),
  },
  drop: {
    title: 'A lost connection, the reconnect and the resend',
    text:
      "The device publishes a QoS 1 message on one of its custom topics, and the network between it and the platform is cut the moment the platform has read it: the platform's PUBACK never arrives. The client notices the connection is gone, waits a random backoff and connects again with Clean Session 0. CONNACK says Session Present 1: the platform (and the stand-in) kept the device's session, its subscriptions too, so the client subscribes to nothing again. It sends the unacknowledged PUBLISH again with the same packet identifier [MQTT-4.4.0-1] and DUP 1: it may be a repeat, since the platform may have read it before the cut [MQTT-3.3.1-1]. Had the session been lost (Session Present 0), the message would go out as a new one, DUP 0, on a new session.",
    run: (demo) => demo.drop(),
  },
  disconnect: {
    title: 'Disconnect',
    text:
      'end() waits for outstanding acknowledgements, sends DISCONNECT and closes the connection; nothing may follow DISCONNECT [MQTT-3.14.4-1, MQTT-3.14.4-2]. The server learns that the device left on purpose at once, instead of when the keepalive runs out. With Clean Session 0 the session outlives the connection [MQTT-3.1.2-4]: the stand-in keeps it, and the next Connect gets Session Present 1.',
    run: (demo) => demo.disconnect(),
  },
};

export function isStepName(name: string): name is StepName {
  return (STEP_NAMES as readonly string[]).includes(name);
}

export class DemoDevice {
  #device: Device | undefined;
  #link: CuttableLink | undefined;
  #subscribed = false;
  /** Whether the session the stand-in keeps for the demo device holds the step's subscriptions. */
  #sessionSubscribed = false;
  /** Session Present of the demo device's last CONNACK, as the stand-in sent it. */
  #sessionPresent = false;
  #busy: StepName | undefined;
  #closed = false;
  /** Set by the drop step: the next QoS 1 PUBLISH from the demo device cuts the link. */
  #cutNext = false;
  #seq = 0;
  /** QoS 1 PUBLISH ids of the demo device awaiting their PUBACK, by direction (as the stand-in sees them). */
  readonly #awaiting = { in: new Set<number>(), out: new Set<number>() };
  #lastPacketAt = 0;

  constructor(
    private readonly emulator: Emulator,
    private readonly feed: SessionFeed,
    private readonly changed: (state: DemoState) => void,
  ) {
    emulator.on('packet', (event) => this.#seen(event));
  }

  get state(): DemoState {
    return { device: this.#device?.client.state ?? 'none', subscribed: this.#subscribed, busy: this.#busy };
  }

  /** Runs one step after the other; a second step while one runs is refused (`busy`). */
  async run(name: StepName): Promise<string> {
    if (this.#closed) throw new StepError('not-ready', 'the server is shutting down');
    if (this.#busy !== undefined) throw new StepError('busy', `step "${this.#busy}" is still running; wait for it to finish`);
    const step = STEPS[name];
    this.#busy = name;
    this.#changed();
    try {
      this.feed.record({ kind: 'step', step: name, title: step.title, text: step.text });
      const result = await step.run(this);
      // So that what the step caused (a PUBACK still on its way, an echo) is drawn under its heading.
      await this.#settled();
      this.feed.record({ kind: 'note', level: 'info', text: result });
      return result;
    } catch (error) {
      const failure = error instanceof StepError ? error : new StepError('failed', error instanceof Error ? error.message : String(error));
      this.feed.record({ kind: 'note', level: 'error', text: failure.message });
      throw failure;
    } finally {
      this.#busy = undefined;
      this.#changed();
    }
  }

  async connect(): Promise<string> {
    if (this.#device !== undefined) throw new StepError('not-ready', 'the demo device is connected already; disconnect first');
    this.#link ??= await CuttableLink.open(this.emulator.host, { host: this.emulator.host, port: this.emulator.port });
    const device = await connectDevice({
      ...WEB_DEMO_DEVICE,
      endpoint: { host: this.emulator.host, port: this.#link.port },
      ca: this.emulator.ca,
      keepalive: DEMO_KEEPALIVE,
      clean: false,
      subscribe: false,
      connectTimeout: STEP_TIMEOUT_MS,
      // A short backoff, so that the reconnect shows within a second or two.
      reconnect: { initialDelay: 1000, maxDelay: 4000 },
    });
    this.#device = device;
    // Session Present 1: the subscriptions of the last connection are the session's still.
    this.#sessionSubscribed &&= this.#sessionPresent;
    this.#subscribed = this.#sessionSubscribed;
    this.#watch(device);
    const accepted = `CONNACK 0: the stand-in accepted ${device.deviceName} of product ${device.productKey}`;
    if (!this.#sessionPresent) return `${accepted}, Session Present 0: a new session.`;
    return `${accepted}, Session Present 1: it kept the device's session since its last connection (Clean Session 0), ${this.#subscribed ? 'subscriptions included: no need to subscribe again' : 'which holds no subscription yet'}.`;
  }

  async subscribe(): Promise<string> {
    const device = this.#connected();
    const filters = [device.topics.postReplyFilter(), device.topics.serviceFilter(), device.topics.rrpcRequestFilter()];
    const grants = await within(device.client.subscribe(filters, { qos: 1 }), 'SUBACK');
    this.#subscribed = true;
    this.#sessionSubscribed = true;
    return `SUBACK: granted QoS ${grants.map((g) => String(g.qos)).join(', ')} for ${filters.length} filters.`;
  }

  async post(): Promise<string> {
    const device = this.#connected();
    if (!this.#subscribed) throw new StepError('not-ready', 'subscribe first: the reply to a post comes on .../post_reply, which the device must be subscribed to');
    const reply = await device.postProperties({ LightSwitch: 1, Brightness: 80 });
    return `The platform's reply: code ${reply.code} for request id ${reply.id}.`;
  }

  async propertySet(): Promise<string> {
    const device = this.#connected();
    if (!this.#subscribed) throw new StepError('not-ready', 'subscribe first: a property set comes on thing/service/property/set, which the device must be subscribed to');
    const reply = await this.emulator.sendPropertySet(device.productKey, device.deviceName, { LightSwitch: 0 }, STEP_TIMEOUT_MS);
    return `The cloud got the device's answer: code ${reply.code} for request id ${reply.id}.`;
  }

  async ping(): Promise<string> {
    const device = this.#connected();
    const roundTrip = await device.client.ping();
    return `PINGRESP after ${roundTrip.toFixed(1)} ms.`;
  }

  async drop(): Promise<string> {
    const device = this.#connected();
    // What the device sends and hears, from its own side: the PUBLISH, its resend and the new CONNACK.
    let original: PublishPacket | undefined;
    let resent: PublishPacket | undefined;
    let sessionPresent: boolean | undefined;
    const onSend = (packet: Packet): void => {
      if (packet.type !== 'publish') return;
      if (original === undefined) original = packet;
      else if (resent === undefined && packet.packetId === original.packetId) resent = packet;
    };
    const onReceive = (packet: Packet): void => {
      if (packet.type === 'connack' && original !== undefined) sessionPresent = packet.sessionPresent;
    };
    device.client.on('packetsend', onSend);
    device.client.on('packetreceive', onReceive);
    this.#cutNext = true;
    try {
      const payload = JSON.stringify({ seq: ++this.#seq, note: 'sent just before the network failed' });
      await within(device.publish(device.topics.user('update'), payload, { qos: 1 }), 'PUBACK, even after reconnecting');
    } finally {
      this.#cutNext = false;
      device.client.off('packetsend', onSend);
      device.client.off('packetreceive', onReceive);
    }
    if (resent === undefined || sessionPresent === undefined) return 'The PUBACK arrived before the cut took effect: nothing was lost this time.';
    const how = sessionPresent
      ? `CONNACK said Session Present 1: the stand-in kept the session (Clean Session 0, as the platform does), subscriptions included, so the client subscribed to nothing again and sent the PUBLISH again with DUP ${resent.dup ? 1 : 0}`
      : `CONNACK said Session Present 0: no session was kept, so the client sent the PUBLISH again as a new message on the new session, DUP ${resent.dup ? 1 : 0}, and subscribed again`;
    return `${how}, with the same packet identifier ${resent.packetId}. Its PUBACK arrived on the new connection.`;
  }

  async disconnect(): Promise<string> {
    const device = this.#device;
    if (device === undefined) throw new StepError('not-ready', 'the demo device is not connected');
    const { unacknowledged } = await device.end();
    this.#device = undefined;
    this.#subscribed = false;
    return `Disconnected; ${unacknowledged.length} messages were left unacknowledged. The stand-in keeps the session (Clean Session 0) for the next Connect.`;
  }

  async close(): Promise<void> {
    this.#closed = true;
    const device = this.#device;
    this.#device = undefined;
    if (device !== undefined) await device.end({ force: true });
    await this.#link?.close();
  }

  #connected(): Device {
    const device = this.#device;
    if (device === undefined) throw new StepError('not-ready', 'connect the demo device first');
    if (device.client.state !== 'connected') throw new StepError('not-ready', `the demo device is ${device.client.state}, not connected; wait for it to reconnect`);
    return device;
  }

  #changed(): void {
    this.changed(this.state);
  }

  /** Puts what the client does by itself (noticing a lost connection, backing off, reconnecting) into the feed. */
  #watch(device: Device): void {
    const { client } = device;
    device.onPropertySet((params) => {
      this.feed.record({ kind: 'note', level: 'info', text: `The device's handler applies ${JSON.stringify(params)}.` });
      return {};
    });
    device.on('error', (error) => this.feed.record({ kind: 'note', level: 'error', text: `device: ${error.message}` }));
    client.on('error', (error) => this.feed.record({ kind: 'note', level: 'error', text: `client: ${error.message}` }));
    client.on('offline', () => {
      this.feed.record({ kind: 'note', level: 'info', text: 'The client noticed that the connection is gone.' });
      this.#changed();
    });
    client.on('reconnect', (attempt, delay) => {
      this.feed.record({ kind: 'note', level: 'info', text: `Reconnect attempt ${attempt} after a backoff of ${Math.round(delay)} ms, drawn at random (full jitter) so that a fleet that lost the same server does not come back all at once.` });
      this.#changed();
    });
    client.on('connect', () => this.#changed());
    client.on('end', () => {
      if (this.#device === device) {
        this.#device = undefined;
        this.#subscribed = false;
      }
      this.#changed();
    });
  }

  /** Resolves when no QoS 1 message of the demo device awaits its PUBACK and nothing has moved for a moment. */
  async #settled(): Promise<void> {
    const start = performance.now();
    for (;;) {
      const busy = this.#awaiting.in.size + this.#awaiting.out.size > 0 || performance.now() - this.#lastPacketAt < QUIET_MS;
      if (!busy || performance.now() - start > SETTLE_LIMIT_MS) return;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  #seen({ direction, packet, connection }: PacketEvent): void {
    if (connection.productKey !== WEB_DEMO_DEVICE.productKey || connection.deviceName !== WEB_DEMO_DEVICE.deviceName) return;
    this.#lastPacketAt = performance.now();
    if (packet.type === 'publish' && packet.qos === 1) this.#awaiting[direction].add(packet.packetId!);
    // A PUBACK travelling one way acknowledges a PUBLISH that travelled the other way.
    if (packet.type === 'puback') this.#awaiting[direction === 'in' ? 'out' : 'in'].delete(packet.packetId);
    if (packet.type === 'connack') {
      this.#sessionPresent = packet.sessionPresent;
      // A new connection: what the old one awaited is resent on it (and counted again) or gone.
      this.#awaiting.in.clear();
      this.#awaiting.out.clear();
    }
    if (this.#cutNext && direction === 'in' && packet.type === 'publish' && packet.qos === 1) this.#cut(connection.id);
  }

  /** The cut of the drop step, made the moment the stand-in has read the demo device's PUBLISH. */
  #cut(id: number): void {
    this.#cutNext = false;
    // Synchronously, before the stand-in goes on to write its PUBACK: that write then goes nowhere.
    this.#link?.cut();
    this.feed.cut(id);
    this.feed.record({ kind: 'note', level: 'info', text: 'The network fails: the connection is cut after the platform read the PUBLISH, before its PUBACK can reach the device.' });
  }
}

/** `promise`, or a StepError if it takes longer than STEP_TIMEOUT_MS. */
async function within<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new StepError('failed', `no ${what} within ${STEP_TIMEOUT_MS / 1000} s`)), STEP_TIMEOUT_MS);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
