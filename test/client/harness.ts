/**
 * Shared set-up for the session's unit tests: a client on a virtual clock talking to a FakeServer
 * over an in-memory pipe, and the helpers that move time and watch promises.
 *
 * Two kinds of waiting meet here. Timers (keepalive, backoff, timeouts) run only when a test
 * moves the VirtualClock. Bytes travel through Node streams and the writer's end-of-tick flush,
 * which need turns of the real event loop: `settle()` gives them those turns, never a sleep.
 */
import { afterAll, afterEach, beforeAll, expect } from 'vitest';
import { MqttClient } from '../../src/client/client.js';
import type { MqttClientEvents } from '../../src/client/client.js';
import type { MqttClientOptions } from '../../src/client/options.js';
import type { ConnackPacket } from '../../src/packet/types.js';
import { FakeServer } from '../support/fake-server.js';
import type { FakeServerOptions, ServerConnection } from '../support/fake-server.js';
import { VirtualClock } from '../support/virtual-clock.js';

/** Turns of the event loop that let written bytes reach the other end and be handled. */
export async function settle(turns = 6): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

/**
 * Moves virtual time forward by `ms`, stopping at each timer's due time to let the I/O it caused
 * happen at that time (a PINGREQ written by a timer reaches the server stamped with its time).
 */
export async function elapse(clock: VirtualClock, ms: number): Promise<void> {
  const target = clock.now() + ms;
  await settle(); // work already under way (a rejected openSocket, a write) may set timers first
  for (let steps = 0; ; steps++) {
    if (steps > 100_000) throw new Error('elapse: timers keep re-arming at the same moment (a tight loop?)');
    const due = clock.nextDue();
    if (due === undefined || due > target) break;
    clock.advanceTo(due);
    await settle();
  }
  clock.advanceTo(target);
  await settle();
}

/** A promise watched from the moment it is made, so a rejection is never unhandled. */
export interface Tracked<T> {
  readonly status: 'pending' | 'fulfilled' | 'rejected';
  readonly value: T | undefined;
  readonly error: unknown;
  /** Resolves (never rejects) once the promise has settled. */
  readonly done: Promise<void>;
}

export function track<T>(promise: Promise<T>): Tracked<T> {
  const t: { status: Tracked<T>['status']; value: T | undefined; error: unknown; done: Promise<void> } = {
    status: 'pending',
    value: undefined,
    error: undefined,
    done: Promise.resolve(),
  };
  t.done = promise.then(
    (value) => {
      t.status = 'fulfilled';
      t.value = value;
    },
    (error: unknown) => {
      t.status = 'rejected';
      t.error = error;
    },
  );
  return t;
}

/** Asserts that `t` has settled by now (after whatever time the test has advanced). */
export function expectSettled(t: Tracked<unknown>, what = 'promise'): void {
  expect(t.status, `${what} should have settled`).not.toBe('pending');
}

/** Asserts that `t` rejected with an error carrying `code` (and, if given, of `type`). */
export function expectRejected(t: Tracked<unknown>, code: string, type?: abstract new (...args: never[]) => Error): void {
  expect(t.status, `expected a rejection with ${code}`).toBe('rejected');
  if (type !== undefined) expect(t.error).toBeInstanceOf(type);
  expect((t.error as { code?: unknown }).code).toBe(code);
}

/** Waits (in real event-loop turns, not time) until `t` settles; fails if it does not. */
export async function settled<T>(t: Tracked<T>, turns = 50): Promise<Tracked<T>> {
  for (let i = 0; i < turns && t.status === 'pending'; i++) await settle(1);
  expectSettled(t);
  return t;
}

/** Fails the current test when any promise rejection goes unhandled while it runs. */
export function failOnUnhandledRejections(): void {
  const seen: unknown[] = [];
  const listener = (reason: unknown): void => {
    seen.push(reason);
  };
  beforeAll(() => {
    process.on('unhandledRejection', listener);
  });
  afterAll(() => {
    process.off('unhandledRejection', listener);
  });
  afterEach(async () => {
    await settle();
    const found = seen.splice(0);
    expect(found, 'unhandled promise rejections').toEqual([]);
  });
}

type EventName = keyof MqttClientEvents;
export interface LoggedEvent {
  readonly name: EventName;
  readonly args: readonly unknown[];
  readonly at: number;
}

export interface Session {
  readonly clock: VirtualClock;
  readonly server: FakeServer;
  readonly client: MqttClient;
  /** Every event the client emitted, in order, with the virtual time. */
  readonly events: LoggedEvent[];
  /** The `error` events' errors. */
  readonly errors: Error[];
  /** Events of one name. */
  eventsNamed(name: EventName): LoggedEvent[];
}

export interface SessionOptions extends Partial<MqttClientOptions> {
  readonly server?: Omit<FakeServerOptions, 'clock'>;
}

const sessions: Session[] = [];

/** Ends every session the test made, so no client outlives its test. */
afterEach(async () => {
  const live = sessions.splice(0);
  for (const s of live) {
    for (const c of s.server.connections) c.resume();
    const ended = track(s.client.end({ force: true }));
    await settle();
    if (ended.status === 'pending') await elapse(s.clock, 5_000);
  }
});

export const CONNACK_OK: ConnackPacket = { type: 'connack', sessionPresent: false, returnCode: 0 };

/** A client on a virtual clock with a fake server (reconnect off unless given; jitter 0.5). */
export function session(options: SessionOptions = {}): Session {
  const { server: serverOptions, ...clientOptions } = options;
  const clock = new VirtualClock();
  const server = new FakeServer({ clock, ...serverOptions });
  const client = new MqttClient({
    host: '::1',
    clientId: 'device-1',
    clock,
    random: () => 0.5,
    reconnect: false,
    openSocket: server.openSocket,
    ...clientOptions,
  });
  const events: LoggedEvent[] = [];
  const errors: Error[] = [];
  const names: EventName[] = ['connect', 'message', 'close', 'offline', 'reconnect', 'error', 'end'];
  for (const name of names) {
    client.on(name, (...args: unknown[]) => {
      events.push({ name, args, at: clock.now() });
      if (name === 'error') errors.push(args[0] as Error);
    });
  }
  const s: Session = { clock, server, client, events, errors, eventsNamed: (name) => events.filter((e) => e.name === name) };
  sessions.push(s);
  return s;
}

/** Connects `s.client`, answering its CONNECT with `connack`; returns the server connection. */
export async function connect(s: Session, connack: ConnackPacket = CONNACK_OK): Promise<ServerConnection> {
  const connected = track(s.client.connect());
  await s.server.next('connect');
  const connection = s.server.current!;
  connection.send(connack);
  await settled(connected);
  if (connected.status === 'rejected') throw connected.error;
  return connection;
}

/** A session already connected: `session(options)` then `connect`. */
export async function connectedSession(options: SessionOptions = {}): Promise<Session & { connection: ServerConnection }> {
  const s = session(options);
  const connection = await connect(s);
  return { ...s, connection };
}
