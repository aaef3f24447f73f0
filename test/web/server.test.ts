/**
 * `aliot web`'s server without a browser: where it listens, what it serves (its own files and
 * nothing else, however a path is spelled), whom it answers, the signing API, the demo's steps
 * as packets, and the event stream's bounded history for late and slow viewers.
 *
 * startWeb serves the built page; `npm test` builds first.
 */
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { networkInterfaces } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectDevice } from '../../src/device/device.js';
import { signCredentials } from '../../src/sign/credentials.js';
import { ConfigurationError } from '../../src/shared/errors.js';
import { WEB_DEMO_DEVICE } from '../../src/web/demo-device.js';
import { MAX_BODY_BYTES, startWeb, WEB_GUEST_DEVICE } from '../../src/web/server.js';
import type { WebServer } from '../../src/web/server.js';
import { PAGE_DIRECTORY } from '../../src/web/static-files.js';
import { MAX_BACKLOG } from '../../src/web/viewers.js';
import { EventStream, postJson, rawGet, rawRequest } from './support.js';

const STEPS = ['connect', 'subscribe', 'post', 'property-set', 'ping', 'drop', 'disconnect'];

/** Resolves with the error code of a TCP connection attempt, or 'connected'. */
function tryConnect(host: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve('connected');
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'error'));
  });
}

function packets(web: WebServer): any[] {
  return web.feed.since().map((e) => JSON.parse(e.json)).filter((e) => e.kind === 'packet');
}

describe('where it listens', () => {
  let web: WebServer;
  beforeAll(async () => {
    web = await startWeb();
  });
  afterAll(() => web.close());

  it('serves on [::1] and the stand-in listens there too', async () => {
    expect(web.host).toBe('::1');
    expect(web.url).toBe(`http://[::1]:${web.port}/`);
    expect(web.emulator.host).toBe('::1');
    expect(await tryConnect('::1', web.port)).toBe('connected');
  });

  it('is not reachable on any other address of this machine', async () => {
    const others = ['127.0.0.1'];
    for (const list of Object.values(networkInterfaces())) {
      for (const address of list ?? []) if (!address.internal && address.scopeid === undefined) others.push(address.address);
    }
    for (const host of others) expect([host, await tryConnect(host, web.port)]).toEqual([host, 'ECONNREFUSED']);
  });

  it('refuses to listen anywhere but on a loopback address', async () => {
    for (const host of ['::', '0.0.0.0', '192.168.1.10', 'localhost', '::ffff:127.0.0.1', 'example.com']) {
      await expect(startWeb({ host }), host).rejects.toThrow(ConfigurationError);
    }
  });

  it('can serve on 127.0.0.1 for machines without IPv6', async () => {
    const v4 = await startWeb({ host: '127.0.0.1' });
    try {
      expect(v4.url).toBe(`http://127.0.0.1:${v4.port}/`);
      expect(v4.emulator.host).toBe('127.0.0.1');
      expect(await tryConnect('::1', v4.port)).toBe('ECONNREFUSED');
    } finally {
      await v4.close();
    }
  });

  it('closes everything: the page, the streams and the stand-in', async () => {
    const other = await startWeb();
    const { port } = other;
    const mqttPort = other.emulator.port;
    const stream = new EventStream(port);
    await stream.until((s) => s.hello !== undefined);
    await other.close();
    await stream.until((s) => s.closed);
    expect(await tryConnect('::1', port)).toBe('ECONNREFUSED');
    expect(await tryConnect('::1', mqttPort)).toBe('ECONNREFUSED');
  });
});

describe('what it serves', () => {
  let web: WebServer;
  beforeAll(async () => {
    web = await startWeb();
  });
  afterAll(() => web.close());

  it("serves the page's own files, as they are on disk, with their types", async () => {
    for (const [path, file, type] of [
      ['/', 'index.html', 'text/html'],
      ['/index.html', 'index.html', 'text/html'],
      ['/app.js', 'app.js', 'text/javascript'],
      ['/mqtt-explain.js', 'mqtt-explain.js', 'text/javascript'],
      ['/style.css', 'style.css', 'text/css'],
    ] as const) {
      const response = await rawGet(web.port, path);
      expect(response.status, path).toBe(200);
      expect(response.head).toContain(`Content-Type: ${type}`);
      expect(response.head).toContain("Content-Security-Policy: default-src 'self'");
      expect(response.head).toContain('X-Content-Type-Options: nosniff');
      expect(response.body).toBe(readFileSync(`${PAGE_DIRECTORY}/${file}`, 'latin1'));
    }
  });

  it('answers a query string, and HEAD without a body', async () => {
    expect((await rawGet(web.port, '/app.js?v=2')).status).toBe(200);
    const head = await rawRequest(web.port, ['HEAD /app.js HTTP/1.1', `Host: [::1]:${web.port}`, 'Connection: close']);
    expect(head.status).toBe(200);
    expect(head.body).toBe('');
  });

  it('serves nothing outside its own files, however the path is spelled', async () => {
    const targets = [
      '/../package.json',
      '/../../package.json',
      '/%2e%2e/package.json',
      '/%2E%2E/%2E%2E/package.json',
      '/%252e%252e/package.json',
      '/%252e%252e/%252e%252e/package.json',
      '/..%2fpackage.json',
      '/..%2f..%2fpackage.json',
      '/..%252f..%252fpackage.json',
      '/%2e%2e%2f%2e%2e%2fpackage.json',
      '/.%2e/.%2e/package.json',
      '/..\\..\\package.json',
      '/..%5c..%5cpackage.json',
      '/..%255c..%255cpackage.json',
      '/app.js/../../../package.json',
      '/./../../certs/loopback/server.key',
      '/../../../certs/loopback/server.key',
      '/%2e%2e/%2e%2e/%2e%2e/certs/loopback/server.key',
      '//etc/passwd',
      '/../../../../../../etc/passwd',
      '/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd',
      '/index.html%00.js',
      '/%00',
      '/dist/web/page/app.js',
      '/src/web/server.ts',
      '/.gitignore',
      '/page/app.js',
    ];
    for (const target of targets) {
      const response = await rawGet(web.port, target);
      expect([target, response.status]).toEqual([target, 404]);
      expect(response.body).not.toContain('aliot-mqtt');
      expect(response.body).not.toContain('PRIVATE KEY');
      expect(response.body).not.toContain('root:');
    }
  });

  it('refuses request targets that are not a path (absolute form, asterisk)', async () => {
    for (const target of [`http://[::1]:${web.port}/../package.json`, `http://[::1]:${web.port}/app.js`, '*', 'app.js']) {
      expect([target, (await rawGet(web.port, target)).status]).toEqual([target, 400]);
    }
  });

  it('answers only requests addressed to a loopback name with its own port (no DNS rebinding)', async () => {
    const get = (host: string) => rawRequest(web.port, ['GET / HTTP/1.1', `Host: ${host}`, 'Connection: close']);
    for (const host of [`[::1]:${web.port}`, `localhost:${web.port}`, `LOCALHOST:${web.port}`, `127.0.0.1:${web.port}`, '[::1]']) {
      expect([host, (await get(host)).status]).toEqual([host, 200]);
    }
    for (const host of ['evil.example', `evil.example:${web.port}`, `[::1]:${web.port + 1}`, `localhost.evil.example:${web.port}`, `10.0.0.1:${web.port}`, '']) {
      expect([host, (await get(host)).status]).toEqual([host, 421]);
    }
    const none = await rawRequest(web.port, ['GET / HTTP/1.0']);
    expect(none.status).toBe(421);
  });

  it('says which methods a path takes', async () => {
    const put = await rawRequest(web.port, ['PUT /app.js HTTP/1.1', `Host: [::1]:${web.port}`, 'Content-Length: 0', 'Connection: close']);
    expect(put.status).toBe(405);
    expect(put.head).toContain('Allow: GET, HEAD');
    const get = await rawGet(web.port, '/api/sign');
    expect(get.status).toBe(405);
    expect(get.head).toContain('Allow: POST');
  });
});

describe('the page\'s requests', () => {
  let web: WebServer;
  beforeAll(async () => {
    web = await startWeb();
  });
  afterAll(() => web.close());

  const example = { productKey: 'pk', deviceName: 'device', deviceSecret: 'secret', clientId: '12345', timestamp: 789, signMethod: 'hmacsha1', transport: 'tcp' };

  it("signs the platform page's worked example as the page prints it", async () => {
    const { status, json } = await postJson(web.port, '/api/sign', example);
    expect(status).toBe(200);
    expect(json.password.startsWith('FAFD82A3D602B37FB0FA8B7892F24A477F85')).toBe(true);
    expect(json.clientId).toBe('12345|securemode=3,signmethod=hmacsha1,timestamp=789|');
    expect(json.username).toBe('device&pk');
    expect(json.content).toBe('clientId12345deviceNamedeviceproductKeypktimestamp789');
    expect(json.parameters.map((p: { name: string }) => p.name)).toEqual(['clientId', 'deviceName', 'productKey', 'timestamp']);
    expect(json.hash).toBe('SHA-1');
    expect(json.secureMode).toBe(3);
  });

  it('signs as the library does, for every method, with and without a timestamp, and never echoes the secret', async () => {
    for (const signMethod of ['hmacmd5', 'hmacsha1', 'hmacsha256'] as const) {
      for (const timestamp of [1_700_000_000_000, null]) {
        const request = { productKey: 'a1B2c3', deviceName: 'lamp', deviceSecret: 'Zq9-never-echoed', clientId: '', timestamp, signMethod, transport: 'tls' };
        const { status, json } = await postJson(web.port, '/api/sign', request);
        expect(status).toBe(200);
        const expected = signCredentials({ ...request, clientId: undefined, secureMode: 2 });
        expect(json).toMatchObject({ clientId: expected.clientId, username: expected.username, password: expected.password });
        expect(JSON.stringify(json)).not.toContain('Zq9-never-echoed');
        expect(json.content.includes('timestamp')).toBe(timestamp !== null);
      }
    }
  });

  it('says which field is wrong, without the secret', async () => {
    const bad = await postJson(web.port, '/api/sign', { ...example, productKey: 'a&b', deviceSecret: 'Zq9-never-echoed' });
    expect(bad.status).toBe(400);
    expect(bad.json.field).toBe('productKey');
    expect(JSON.stringify(bad.json)).not.toContain('Zq9-never-echoed');
    for (const [body, field] of [
      [{ ...example, signMethod: 'hmacsha512' }, 'signMethod'],
      [{ ...example, timestamp: '789' }, 'timestamp'],
      [{ ...example, timestamp: -1 }, 'timestamp'],
      [{ ...example, transport: 'udp' }, 'transport'],
      [{ ...example, deviceSecret: 42 }, 'deviceSecret'],
      [{ ...example, clientId: 'a|b' }, 'clientId'],
      [[1, 2], 'request'],
      [{}, 'productKey'],
      [null, 'request'],
    ] as const) {
      const { status, json } = await postJson(web.port, '/api/sign', body);
      expect([field, status, json.field]).toEqual([field, 400, field]);
    }
  });

  it('takes POSTs only as JSON, from its own page, and of a bounded size', async () => {
    expect((await postJson(web.port, '/api/sign', example, { 'Content-Type': 'text/plain' })).status).toBe(415);
    expect((await postJson(web.port, '/api/sign', example, { 'Content-Type': 'application/x-www-form-urlencoded' })).status).toBe(415);
    expect((await postJson(web.port, '/api/sign', example, { Origin: 'http://evil.example' })).status).toBe(403);
    expect((await postJson(web.port, '/api/sign', example, { Origin: 'null' })).status).toBe(403);
    expect((await postJson(web.port, '/api/sign', example, { Origin: `http://[::1]:${web.port}` })).status).toBe(200);
    expect((await postJson(web.port, '/api/sign', '{"productKey":')).status).toBe(400);
    const large = await postJson(web.port, '/api/sign', { ...example, pad: 'x'.repeat(MAX_BODY_BYTES) });
    expect(large.status).toBe(413);
    expect((await postJson(web.port, '/api/steps/../../sign', {})).status).toBe(404);
    expect((await postJson(web.port, '/api/steps/rm%20-rf', {})).status).toBe(404);
  });

  it('tells the page where the stand-in is, with working commands for a device of your own', async () => {
    const info = JSON.parse((await rawGet(web.port, '/api/info')).body);
    expect(info.standIn.url).toBe(web.emulator.url);
    expect(readFileSync(info.standIn.caFile, 'utf8')).toBe(web.emulator.ca);
    expect(info.commands.aliot).toContain(`--endpoint '[::1]:${web.emulator.port}'`);
    expect(info.commands.mosquitto).toContain(`-p ${web.emulator.port}`);
    expect(info.workedExample.passwordPrefix).toBe('FAFD82A3D602B37FB0FA8B7892F24A477F85');
  });
});

describe("the demo's steps", () => {
  let web: WebServer;
  beforeAll(async () => {
    web = await startWeb();
  });
  afterAll(() => web.close());

  it('refuses a step that makes no sense yet, saying what to do first', async () => {
    for (const step of ['subscribe', 'post', 'ping', 'drop', 'disconnect']) {
      const { status, json } = await postJson(web.port, `/api/steps/${step}`, {});
      expect([step, status, json.code]).toEqual([step, 409, 'not-ready']);
      expect(json.error).toMatch(/connect/);
    }
  });

  it('runs the whole session: every packet in order, the lost PUBACK and the resend with the same id', async () => {
    for (const step of STEPS) {
      const { status, json } = await postJson(web.port, `/api/steps/${step}`, {});
      expect([step, status]).toEqual([step, 200]);
      expect(typeof json.result).toBe('string');
    }
    const seen = packets(web).map((p) => `${p.direction} ${p.type}${p.lost ? ' lost' : ''}`);
    expect(seen).toEqual([
      'up CONNECT', 'down CONNACK',
      'up SUBSCRIBE', 'down SUBACK',
      'up PUBLISH', 'down PUBACK', 'down PUBLISH', 'up PUBACK',
      // The set_reply goes at QoS 0; the stand-in, as the platform, does not send it back to the
      // device, although it subscribed to thing/service/#.
      'down PUBLISH', 'up PUBACK', 'up PUBLISH',
      'up PINGREQ', 'down PINGRESP',
      'up PUBLISH', 'down PUBACK lost',
      // Session Present 1: the stand-in kept the session with its subscriptions; nothing is subscribed again.
      'up CONNECT', 'down CONNACK', 'up PUBLISH', 'down PUBACK',
      'up DISCONNECT',
    ]);
    const all = packets(web);
    const [lost, resent] = all.filter((p) => p.type === 'PUBLISH' && p.fields.topic.endsWith('/user/update'));
    expect(resent.fields.packetId).toBe(lost.fields.packetId);
    expect(resent.connection.id).not.toBe(lost.connection.id);
    // The stand-in kept the Clean Session 0 session, so the resend may be a repeat: DUP 1 [MQTT-3.3.1-1, MQTT-4.4.0-1].
    expect(all.filter((p) => p.type === 'CONNACK').map((p) => p.fields.sessionPresent)).toEqual([false, true]);
    expect([lost.fields.dup, resent.fields.dup]).toEqual([false, true]);
    const notes = web.feed.since().map((e) => JSON.parse(e.json)).filter((e) => e.kind === 'note').map((e) => e.text);
    expect(notes.join('\n')).toContain(`Session Present 1`);
    expect(notes.join('\n')).toContain(`DUP 1, with the same packet identifier ${lost.fields.packetId}`);
  });

  it('never lets the CONNECT password out of the server', () => {
    const connect = packets(web).find((p) => p.type === 'CONNECT');
    const timestamp = Number(/timestamp=(\d+)/.exec(connect.fields.clientId)![1]);
    const { password } = signCredentials({ ...WEB_DEMO_DEVICE, timestamp });
    const everything = web.feed.since().map((e) => e.json).join('\n');
    expect(everything).not.toContain(password);
    expect(everything).not.toContain(Buffer.from(password).toString('hex'));
    expect(connect.hex.endsWith('**'.repeat(password.length))).toBe(true);
    expect(everything).not.toContain(WEB_DEMO_DEVICE.deviceSecret);
  });

  it('runs one step at a time', async () => {
    const first = postJson(web.port, '/api/steps/connect', {});
    const second = await postJson(web.port, '/api/steps/ping', {});
    expect(second.status).toBe(409);
    expect((await first).status).toBe(200);
    expect((await postJson(web.port, '/api/steps/connect', {})).json.error).toMatch(/connected already/);
    expect((await postJson(web.port, '/api/steps/disconnect', {})).status).toBe(200);
  });

  it('connects again to the session the stand-in kept: Session Present 1, the subscriptions still there', async () => {
    const connected = await postJson(web.port, '/api/steps/connect', {});
    expect(connected.json.result).toMatch(/Session Present 1: .*subscriptions included/);
    // No SUBSCRIBE on this connection, and yet the reply to a post arrives.
    const before = web.feed.last;
    const posted = await postJson(web.port, '/api/steps/post', {});
    expect(posted.json.result).toContain('code 200');
    const types = web.feed.since(before).map((e) => JSON.parse(e.json)).filter((e) => e.kind === 'packet').map((e) => `${e.direction} ${e.type}`);
    expect(types).toEqual(['up PUBLISH', 'down PUBACK', 'down PUBLISH', 'up PUBACK']);
    expect((await postJson(web.port, '/api/steps/disconnect', {})).status).toBe(200);
  });

  it("draws a device of the user's own that connects to the stand-in", async () => {
    const before = web.feed.last;
    const device = await connectDevice({ ...WEB_GUEST_DEVICE, endpoint: { host: '::1', port: web.emulator.port }, ca: web.emulator.ca, reconnect: false });
    await device.end();
    const mine = web.feed.since(before).map((e) => JSON.parse(e.json));
    const types = mine.filter((e) => e.kind === 'packet').map((e) => `${e.direction} ${e.type}`);
    expect(types).toEqual(['up CONNECT', 'down CONNACK', 'up SUBSCRIBE', 'down SUBACK', 'up DISCONNECT']);
    expect(mine.find((e) => e.kind === 'connection' && e.event === 'open').connection.device).toBe('sensor of a1DemoProd');
  });
});

describe('the event stream', () => {
  it('gives a late viewer the kept history, says how much is gone, then goes on live', async () => {
    const web = await startWeb({ history: { events: 20, bytes: 1_000_000 } });
    try {
      for (const step of ['connect', 'subscribe', 'ping', 'ping', 'ping', 'ping', 'ping']) await postJson(web.port, `/api/steps/${step}`, {});
      expect(web.feed.last).toBeGreaterThan(20);
      const late = new EventStream(web.port);
      await late.until((s) => s.events.length >= 20);
      expect(late.headers['content-type']).toBe('text/event-stream; charset=utf-8');
      expect(late.messages[0]!.event).toBe('hello');
      expect(late.hello.missed).toBe(web.feed.last - 20);
      expect(late.hello.history).toEqual({ kept: 20, limits: { events: 20, bytes: 1_000_000 } });
      expect(late.hello.state).toEqual({ device: 'connected', subscribed: true, busy: undefined });
      const seqs = late.events.map((e) => e.seq);
      expect(seqs).toEqual(Array.from({ length: 20 }, (_, i) => web.feed.last - 19 + i));
      expect(late.messages.filter((m) => m.event === 'message').map((m) => Number(m.id))).toEqual(seqs);
      const last = web.feed.last;
      await postJson(web.port, '/api/steps/ping', {});
      await late.until((s) => s.events.some((e) => e.type === 'PINGRESP' && e.seq > last));
      expect(late.messages.some((m) => m.event === 'state' && m.data.busy === 'ping')).toBe(true);
      late.close();
    } finally {
      await web.close();
    }
  });

  it('resumes a viewer from its Last-Event-ID, and starts over for an id it never gave', async () => {
    const web = await startWeb();
    try {
      await postJson(web.port, '/api/steps/connect', {});
      const resumed = new EventStream(web.port, { 'Last-Event-ID': '3' });
      await resumed.until((s) => s.events.length === web.feed.last - 3);
      expect(resumed.events[0].seq).toBe(4);
      expect(resumed.hello.missed).toBe(0);
      resumed.close();
      const stranger = new EventStream(web.port, { 'Last-Event-ID': '999999' });
      await stranger.until((s) => s.events.length === web.feed.last);
      expect(stranger.events[0].seq).toBe(1);
      stranger.close();
    } finally {
      await web.close();
    }
  });

  it('keeps the history within its byte bound', async () => {
    const web = await startWeb({ history: { events: 10_000, bytes: 50_000 } });
    try {
      for (let i = 0; i < 200; i++) web.feed.record({ kind: 'note', level: 'info', text: `${i} ${'x'.repeat(1000)}` });
      const viewer = new EventStream(web.port);
      await viewer.until((s) => s.events.at(-1)?.seq === web.feed.last);
      const bytes = web.feed.since().reduce((sum, e) => sum + e.json.length, 0);
      expect(bytes).toBeLessThanOrEqual(50_000);
      expect(viewer.events.length).toBe(web.feed.since().length);
      expect(viewer.hello.missed).toBe(web.feed.last - viewer.events.length);
      viewer.close();
    } finally {
      await web.close();
    }
  });

  it('cuts off a viewer that stops reading once its backlog passes the bound, and serves the others', async () => {
    const web = await startWeb({ history: { events: 10, bytes: 1_000_000 } });
    try {
      // A viewer that reads its hello and then never again.
      const stalled = connect({ host: '::1', port: web.port });
      await new Promise((resolve) => stalled.once('connect', resolve));
      stalled.write(`GET /events HTTP/1.1\r\nHost: [::1]:${web.port}\r\n\r\n`);
      await new Promise((resolve) => stalled.once('data', resolve));
      stalled.pause();
      const reading = new EventStream(web.port);
      await reading.until((s) => s.hello !== undefined);
      const text = 'x'.repeat(60_000);
      // Far more than the backlog bound and the socket buffers of the loopback together.
      for (let i = 0; i < 400 && web.feed.last < 10_000; i++) {
        web.feed.record({ kind: 'note', level: 'info', text });
        await new Promise((resolve) => setImmediate(resolve));
      }
      await reading.until((s) => s.events.at(-1)?.seq === web.feed.last, 20_000);
      const closed = new Promise((resolve) => stalled.once('close', resolve));
      stalled.resume();
      await closed;
      expect(reading.closed).toBe(false);
      expect(MAX_BACKLOG).toBeLessThan(400 * 60_000);
      reading.close();
    } finally {
      await web.close();
    }
  });

  it('turns away viewers beyond its limit', async () => {
    const web = await startWeb({ maxViewers: 2 });
    try {
      const a = new EventStream(web.port);
      const b = new EventStream(web.port);
      await a.until((s) => s.hello !== undefined);
      await b.until((s) => s.hello !== undefined);
      const c = await rawGet(web.port, '/events');
      expect(c.status).toBe(503);
      expect(c.head).toContain('Retry-After: 5');
      a.close();
      b.close();
    } finally {
      await web.close();
    }
  });
});
