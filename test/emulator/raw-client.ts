/**
 * A bare MQTT test client for the emulator's tests: a socket from `openTransport`, the project's
 * codec, and nothing else, so the emulator is tested without the client library it serves.
 */
import type { Socket } from 'node:net';
import { encode, PacketDecoder } from '../../src/packet/index.js';
import type { ConnectPacket, Packet, PacketOf, PacketType } from '../../src/packet/index.js';
import { signCredentials } from '../../src/sign/index.js';
import type { SignInput } from '../../src/sign/index.js';
import { openTransport } from '../../src/transport/index.js';
import type { Emulator, EmulatorDevice } from '../../src/emulator/index.js';

/** How long a test waits for an awaited packet or close before failing, not a sleep. */
const WAIT_MS = 5_000;

interface Waiter {
  readonly type: PacketType;
  readonly resolve: (packet: Packet) => void;
  readonly reject: (error: Error) => void;
  readonly timer: ReturnType<typeof setTimeout>;
}

export class RawClient {
  readonly socket: Socket;
  /** Resolves when the socket has closed, whoever closed it. */
  readonly closed: Promise<void>;
  /** Packets received and not yet taken by {@link next}, oldest first. */
  readonly unread: Packet[] = [];
  readonly #decoder = new PacketDecoder();
  #waiters: Waiter[] = [];
  #isClosed = false;
  #failure: Error | undefined;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on('error', () => {}); // the close that follows is what the tests observe
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    this.closed = new Promise((resolve) => {
      socket.once('close', () => {
        this.#isClosed = true;
        this.#failAll(new Error(`the connection closed; unread: ${this.#describeUnread()}`));
        resolve();
      });
    });
  }

  /** Opens a connection to the emulator over its transport (TLS unless it is plain TCP). */
  static async open(emulator: Emulator): Promise<RawClient> {
    const tls = emulator.url.startsWith('mqtts:');
    const socket = await openTransport({
      host: emulator.host,
      port: emulator.port,
      family: 6,
      transport: tls ? 'tls' : 'tcp',
      ...(tls ? { ca: emulator.ca } : {}),
    });
    return new RawClient(socket);
  }

  get isClosed(): boolean {
    return this.#isClosed;
  }

  send(packet: Packet): void {
    this.socket.write(encode(packet));
  }

  sendBytes(bytes: Uint8Array): void {
    this.socket.write(bytes);
  }

  /** The first unread packet of `type`, waiting for it if none has arrived; other packets stay unread. */
  next<T extends PacketType>(type: T, timeoutMs = WAIT_MS): Promise<PacketOf<T>> {
    const index = this.unread.findIndex((packet) => packet.type === type);
    if (index >= 0) return Promise.resolve(this.unread.splice(index, 1)[0] as PacketOf<T>);
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    if (this.#isClosed) return Promise.reject(new Error(`closed before a ${type}; unread: ${this.#describeUnread()}`));
    return new Promise<PacketOf<T>>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((waiter) => waiter.timer !== timer);
        reject(new Error(`no ${type} within ${timeoutMs} ms; unread: ${this.#describeUnread()}`));
      }, timeoutMs);
      this.#waiters.push({ type, resolve: resolve as (packet: Packet) => void, reject, timer });
    });
  }

  /** Resolves when the emulator has closed the connection; fails the test if it stays open. */
  async expectClosed(timeoutMs = WAIT_MS): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`still open after ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      await Promise.race([this.closed, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  destroy(): void {
    this.socket.destroy();
  }

  #onData(chunk: Buffer): void {
    let packets: Packet[];
    try {
      packets = this.#decoder.push(chunk);
    } catch (error) {
      this.#failure = error as Error;
      this.#failAll(this.#failure);
      return;
    }
    for (const packet of packets) {
      const waiter = this.#waiters.find((candidate) => candidate.type === packet.type);
      if (waiter === undefined) {
        this.unread.push(packet);
      } else {
        this.#waiters = this.#waiters.filter((candidate) => candidate !== waiter);
        clearTimeout(waiter.timer);
        waiter.resolve(packet);
      }
    }
  }

  #failAll(error: Error): void {
    for (const waiter of this.#waiters) {
      clearTimeout(waiter.timer);
      waiter.reject(error);
    }
    this.#waiters = [];
  }

  #describeUnread(): string {
    return this.unread.length === 0 ? 'none' : this.unread.map((packet) => packet.type).join(', ');
  }
}

/** What to change in a device's otherwise valid CONNECT. */
export interface ConnectOverrides extends Partial<Omit<ConnectPacket, 'type'>> {
  /** Signing options (secret, securemode, sign method, bare clientId). */
  readonly sign?: Partial<SignInput>;
}

/**
 * A valid CONNECT for `device`, signed with `signCredentials` (securemode 2, keepalive 60) unless
 * overridden.
 */
export function connectPacket(device: EmulatorDevice, overrides: ConnectOverrides = {}): ConnectPacket {
  const { sign, ...fields } = overrides;
  const credentials = signCredentials({ ...device, clientId: 'raw-client', timestamp: 789, ...sign });
  return {
    type: 'connect',
    clientId: credentials.clientId,
    username: credentials.username,
    password: Buffer.from(credentials.password),
    keepalive: 60,
    clean: true,
    ...fields,
  };
}

/** Opens a connection, sends `device`'s CONNECT and returns the client with the CONNACK it got. */
export async function connectDevice(
  emulator: Emulator,
  device: EmulatorDevice,
  overrides: ConnectOverrides = {},
): Promise<{ client: RawClient; connack: PacketOf<'connack'> }> {
  const client = await RawClient.open(emulator);
  const secureMode = emulator.url.startsWith('mqtts:') ? 2 : 3;
  client.send(connectPacket(device, { ...overrides, sign: { secureMode, ...overrides.sign } }));
  return { client, connack: await client.next('connack') };
}

/** Connects `device` and asserts CONNACK 0. */
export async function connected(emulator: Emulator, device: EmulatorDevice, overrides: ConnectOverrides = {}): Promise<RawClient> {
  const { client, connack } = await connectDevice(emulator, device, overrides);
  if (connack.returnCode !== 0) throw new Error(`expected CONNACK 0, got ${connack.returnCode}`);
  return client;
}

/** Subscribes and returns the SUBACK's return codes. */
export async function subscribe(client: RawClient, packetId: number, ...filters: Array<[string, 0 | 1 | 2]>): Promise<readonly number[]> {
  client.send({ type: 'subscribe', packetId, subscriptions: filters.map(([topicFilter, qos]) => ({ topicFilter, qos })) });
  const suback = await client.next('suback');
  if (suback.packetId !== packetId) throw new Error(`SUBACK for ${suback.packetId}, expected ${packetId}`);
  return suback.returnCodes;
}

/**
 * A round trip that proves the emulator has handled everything this client sent before it, and
 * that every packet it wrote to this client before answering has arrived (one socket, in order).
 */
export async function sync(client: RawClient): Promise<void> {
  client.send({ type: 'pingreq' });
  await client.next('pingresp');
}
