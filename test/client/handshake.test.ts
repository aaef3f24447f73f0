/**
 * The handshake: CONNECT first, with the options' fields; CONNACK timeout in virtual time;
 * refusals, their hint, and which of them are worth retrying.
 */
import { describe, expect, it } from 'vitest';
import { ConnectionRefusedError, MqttClientError } from '../../src/client/errors.js';
import type { ConnectReturnCode } from '../../src/packet/types.js';
import { TransportError } from '../../src/transport/errors.js';
import { CONNACK_OK, elapse, expectRejected, failOnUnhandledRejections, session, settle, settled, track } from './harness.js';

failOnUnhandledRejections();

describe('CONNECT', () => {
  it('is the first packet on the connection and carries the options [MQTT-3.1.0-1, MQTT-3.1.3-1]', async () => {
    const password = Uint8Array.of(0x00, 0xff, 0x10, 0x80);
    const s = session({ clientId: 'gw-7|securemode=2|', username: 'dev&pk', password, keepalive: 45, clean: false });
    const connected = track(s.client.connect());
    const connect = await s.server.next('connect');
    const connection = s.server.current!;
    expect(connection.log[0]?.packet).toBe(connect);
    expect(connect).toMatchObject({ clientId: 'gw-7|securemode=2|', keepalive: 45, clean: false, username: 'dev&pk' });
    expect(Array.from(connect.password!)).toEqual(Array.from(password));
    expect(connect.will).toBeUndefined();
    expect(s.server.opens[0]).toMatchObject({ host: '::1', port: 8883, transport: 'tls', family: 6 });
    connection.send(CONNACK_OK);
    await settled(connected);
    expect(connected.value).toEqual({ sessionPresent: false });
    expect(s.client.state).toBe('connected');
    expect(s.eventsNamed('connect').map((e) => e.args)).toEqual([[{ sessionPresent: false }]]);
  });

  it('sends a password given as a string as its UTF-8 bytes, and no user name or password when none is set [MQTT-3.1.2-18, MQTT-3.1.2-20]', async () => {
    const a = session({ username: 'u', password: 'pä' });
    void track(a.client.connect());
    expect(Array.from((await a.server.next('connect')).password!)).toEqual([0x70, 0xc3, 0xa4]);

    const b = session();
    void track(b.client.connect());
    const bare = await b.server.next('connect');
    expect(bare.username).toBeUndefined();
    expect(bare.password).toBeUndefined();
    expect(bare).toMatchObject({ clientId: 'device-1', keepalive: 60, clean: true });
  });

  it('reports sessionPresent from the CONNACK', async () => {
    const s = session({ clean: false });
    const connected = track(s.client.connect());
    await s.server.next('connect');
    s.server.send({ type: 'connack', sessionPresent: true, returnCode: 0 });
    await settled(connected);
    expect(connected.value).toEqual({ sessionPresent: true });
  });
});

describe('CONNACK timeout (section 3.2: close if no CONNACK in reasonable time)', () => {
  it('rejects connect() with connack-timeout once connectTimeout has passed in virtual time, and closes', async () => {
    const s = session({ connectTimeout: 8_000 });
    const connected = track(s.client.connect());
    await s.server.next('connect');
    await elapse(s.clock, 7_999);
    expect(connected.status).toBe('pending');
    expect(s.server.current!.isClosed).toBe(false);
    await elapse(s.clock, 1);
    expectRejected(connected, 'connack-timeout', MqttClientError);
    await s.server.current!.closed;
    const closes = s.eventsNamed('close');
    expect(closes).toHaveLength(1);
    expect((closes[0]!.args[0] as MqttClientError).code).toBe('connack-timeout');
  });

  it('counts the time the socket took to open against the same deadline', async () => {
    // The socket opens 5 s into the attempt; the CONNACK then has 3 s, not 8.
    let open = (): void => {};
    const opened = new Promise<void>((resolve) => (open = resolve));
    const s = session({
      connectTimeout: 8_000,
      openSocket: async (options) => {
        await opened;
        return s.server.openSocket(options);
      },
    });
    const connected = track(s.client.connect());
    await settle();
    s.clock.advance(5_000);
    open();
    await s.server.next('connect');
    await elapse(s.clock, 2_999);
    expect(connected.status).toBe('pending');
    await elapse(s.clock, 1);
    expectRejected(connected, 'connack-timeout');
  });
});

describe('refused CONNACK', () => {
  const codes: Array<Exclude<ConnectReturnCode, 0>> = [1, 2, 3, 4, 5];

  it.each(codes)('code %i rejects connect() with ConnectionRefusedError carrying returnCode and the hint', async (code) => {
    const s = session({
      connackHint: (rc) => ({ meaning: `meaning-${rc}`, cause: `cause-${rc}`, fix: `fix-${rc}` }),
    });
    const connected = track(s.client.connect());
    await s.server.next('connect');
    s.server.send({ type: 'connack', sessionPresent: false, returnCode: code });
    await settled(connected);
    expectRejected(connected, 'connection-refused', ConnectionRefusedError);
    const error = connected.error as ConnectionRefusedError;
    expect(error.returnCode).toBe(code);
    expect(error.retryable).toBe(code === 3);
    expect(error.hint).toEqual({ meaning: `meaning-${code}`, cause: `cause-${code}`, fix: `fix-${code}` });
    // The hint's text is part of what the user reads.
    expect(error.message).toContain(`cause-${code}`);
    expect(error.message).toContain(`fix-${code}`);
    await s.server.current!.closed;
  });

  it('a connackHint that throws does not hide the refusal (nor leave connect() hanging)', async () => {
    const s = session({
      connackHint: () => {
        throw new TypeError('hint table lookup failed');
      },
    });
    const connected = track(s.client.connect());
    await s.server.next('connect');
    s.server.send({ type: 'connack', sessionPresent: false, returnCode: 4 });
    await settled(connected);
    expectRejected(connected, 'connection-refused', ConnectionRefusedError);
    expect((connected.error as ConnectionRefusedError).returnCode).toBe(4);
    expect((connected.error as ConnectionRefusedError).hint).toBeUndefined();
    await s.server.current!.closed;
  });

  it.each([1, 2, 4, 5] as const)('code %i stops reconnecting: no second openSocket call, ever', async (code) => {
    const s = session({ reconnect: { initialDelay: 100, maxDelay: 1_000 } });
    const connected = track(s.client.connect());
    await s.server.next('connect');
    s.server.send({ type: 'connack', sessionPresent: false, returnCode: code });
    await settled(connected);
    await elapse(s.clock, 24 * 3600_000);
    expect(s.server.opens).toHaveLength(1);
    expect(s.client.state).toBe('ended');
    expect(s.eventsNamed('reconnect')).toHaveLength(0);
    expect(s.eventsNamed('end')).toHaveLength(1);
    // Later calls fail at once with the refusal.
    const again = track(s.client.connect());
    await settled(again);
    expectRejected(again, 'connection-refused', ConnectionRefusedError);
    const publish = track(s.client.publish('t', 'x'));
    await settled(publish);
    expectRejected(publish, 'connection-refused');
  });

  it('code 3 (server unavailable) retries after a backoff delay, and the retry can succeed', async () => {
    const s = session({ reconnect: { initialDelay: 1_000, maxDelay: 8_000 } });
    const connected = track(s.client.connect());
    await s.server.next('connect');
    s.server.send({ type: 'connack', sessionPresent: false, returnCode: 3 });
    await settled(connected);
    expectRejected(connected, 'connection-refused', ConnectionRefusedError);
    expect(s.client.state).toBe('waiting');
    // random() is 0.5: the first delay is half of initialDelay.
    await elapse(s.clock, 499);
    expect(s.server.opens).toHaveLength(1);
    await elapse(s.clock, 1);
    expect(s.server.opens).toHaveLength(2);
    expect(s.eventsNamed('reconnect').map((e) => e.args)).toEqual([[1, 500]]);
    const second = await s.server.connection(2);
    await second.next('connect');
    second.send(CONNACK_OK);
    await settle();
    expect(s.client.state).toBe('connected');
    expect(s.eventsNamed('connect')).toHaveLength(1);
  });

  it('emits one error event per refusal', async () => {
    const s = session();
    const connected = track(s.client.connect());
    await s.server.next('connect');
    s.server.send({ type: 'connack', sessionPresent: false, returnCode: 5 });
    await settled(connected);
    await settle();
    expect(s.errors).toHaveLength(1);
    expect(s.errors[0]).toBe(connected.error);
  });

  it('emits one error event when openSocket fails for good (a certificate the server will keep presenting)', async () => {
    const s = session({ reconnect: true });
    const failure = new TransportError('tls-verification-failed', 'certificate has expired', {
      host: '::1',
      port: 8883,
      phase: 'tls',
      certificateProblem: 'CERT_HAS_EXPIRED',
    });
    s.server.failOpen(failure);
    const connected = track(s.client.connect());
    await settled(connected);
    expect(connected.error).toBe(failure);
    await elapse(s.clock, 3600_000);
    expect(s.server.opens).toHaveLength(1);
    expect(s.client.state).toBe('ended');
    expect(s.errors).toEqual([failure]);
  });

  it('an openSocket that throws at once rejects connect() instead of throwing, and a later attempt does not crash the timer', async () => {
    const broken = new Error('proxy misconfigured');
    let calls = 0;
    const s = session({
      reconnect: { initialDelay: 1_000 },
      openSocket: () => {
        calls++;
        throw broken;
      },
    });
    let connected: ReturnType<typeof track> | undefined;
    expect(() => (connected = track(s.client.connect()))).not.toThrow();
    await settled(connected!);
    expect(connected!.error).toBe(broken);
    await elapse(s.clock, 5_000);
    expect(calls).toBeGreaterThan(1);
    expect(s.client.state).toBe('waiting');
  });
});
