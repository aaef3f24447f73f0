/**
 * For the web tests: raw HTTP on a socket (fetch would tidy up the `..` the traversal tests
 * send), a reader for the page's event stream, and Debian's Chromium driven by playwright-core.
 *
 * startWeb serves the built page (dist/web/page/); `npm test` builds before it runs the tests.
 */
import { existsSync } from 'node:fs';
import { request } from 'node:http';
import type { IncomingHttpHeaders } from 'node:http';
import { connect } from 'node:net';
import { chromium } from 'playwright-core';
import type { Browser } from 'playwright-core';

export interface RawResponse {
  readonly status: number;
  readonly head: string;
  readonly body: string;
}

/** Sends `lines` (a request head, CRLF added) as they are and reads the answer to its end. */
export function rawRequest(port: number, lines: readonly string[], body = ''): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '::1', port });
    let text = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk) => (text += chunk));
    socket.on('error', reject);
    socket.on('end', () => {
      const split = text.indexOf('\r\n\r\n');
      const head = split < 0 ? text : text.slice(0, split);
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0), head, body: split < 0 ? '' : text.slice(split + 4) });
    });
    socket.write(`${lines.join('\r\n')}\r\n\r\n${body}`);
  });
}

/** `GET target` with `Connection: close` and a Host header that names this server. */
export function rawGet(port: number, target: string, extra: readonly string[] = []): Promise<RawResponse> {
  return rawRequest(port, [`GET ${target} HTTP/1.1`, `Host: [::1]:${port}`, 'Connection: close', ...extra]);
}

/** A POST from the page itself, as `fetch` in it would send it. */
export function postJson(port: number, path: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; json: any }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '::1', port, path, method: 'POST', headers: { 'Content-Type': 'application/json', ...headers } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, json: text === '' ? undefined : JSON.parse(text) }));
    });
    req.on('error', reject);
    req.end(typeof body === 'string' ? body : JSON.stringify(body));
  });
}

export interface SseMessage {
  readonly event: string;
  readonly id: string | undefined;
  readonly data: any;
}

/** An open `/events` stream, parsed into messages as they arrive. */
export class EventStream {
  readonly messages: SseMessage[] = [];
  headers: IncomingHttpHeaders = {};
  status = 0;
  readonly #waiters: Array<() => void> = [];
  #buffer = '';
  readonly #req;
  closed = false;

  constructor(port: number, headers: Record<string, string> = {}) {
    this.#req = request({ host: '::1', port, path: '/events', headers }, (res) => {
      this.status = res.statusCode ?? 0;
      this.headers = res.headers;
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => this.#take(chunk));
      res.on('close', () => {
        this.closed = true;
        this.#wake();
      });
    });
    this.#req.on('error', () => {
      this.closed = true;
      this.#wake();
    });
    this.#req.end();
  }

  /** Packet, step, note and connection events (those with an id), in order. */
  get events(): any[] {
    return this.messages.filter((m) => m.event === 'message').map((m) => m.data);
  }

  get hello(): any {
    return this.messages.find((m) => m.event === 'hello')?.data;
  }

  /** Resolves once `test` holds of what has arrived; rejects after `ms`. */
  async until(test: (stream: EventStream) => boolean, ms = 10_000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!test(this)) {
      if (this.closed) throw new Error('the event stream closed first');
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out; got ${this.messages.length} messages`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  close(): void {
    this.#req.destroy();
  }

  #take(chunk: string): void {
    this.#buffer += chunk;
    let end: number;
    while ((end = this.#buffer.indexOf('\n\n')) >= 0) {
      const block = this.#buffer.slice(0, end);
      this.#buffer = this.#buffer.slice(end + 2);
      let event = 'message';
      let id: string | undefined;
      const data: string[] = [];
      for (const line of block.split('\n')) {
        if (line.startsWith('event: ')) event = line.slice(7);
        else if (line.startsWith('id: ')) id = line.slice(4);
        else if (line.startsWith('data: ')) data.push(line.slice(6));
      }
      if (data.length > 0) this.messages.push({ event, id, data: JSON.parse(data.join('\n')) });
    }
    this.#wake();
  }

  #wake(): void {
    for (const waiter of this.#waiters.splice(0)) waiter();
  }
}

export const CHROMIUM = '/usr/bin/chromium';

/**
 * The flags this machine's Chromium needs (see the environment notes): no sandbox as root, no
 * GPU, and none of the background connections a closed network refuses.
 */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Debian's Chromium, headless, with a fresh profile (playwright makes one per launch). */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium), as .ci/run does`);
  }
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
}
