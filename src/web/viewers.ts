/**
 * The page's live feed over Server-Sent Events (a plain HTTP response that stays open; the
 * browser's EventSource reads it and reconnects by itself). A viewer gets, in order: a `hello`
 * saying how much history was dropped, the kept history (or, after a reconnect, only what it
 * missed: EventSource sends the last id it saw as `Last-Event-ID`), then every event as it
 * happens. The demo's state (which buttons make sense now) goes out as `state` events, which
 * are not history: `hello` carries the current one.
 *
 * A viewer that reads too slowly is cut off once MAX_BACKLOG bytes wait for it, rather than
 * holding memory without limit; its EventSource reconnects and resumes from the history.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { SessionFeed, StoredEvent } from './feed.js';

/** Bytes that may wait unsent for one viewer before it is cut off. */
export const MAX_BACKLOG = 1024 * 1024;
/** A comment line this often keeps proxies and the browser from timing the stream out. */
export const HEARTBEAT_MS = 15_000;
/** What the browser waits before reconnecting after the stream broke. */
const RETRY_MS = 2000;

export class Viewers {
  readonly #open = new Set<ServerResponse>();
  readonly #heartbeat: NodeJS.Timeout;
  #state: unknown;

  constructor(
    private readonly feed: SessionFeed,
    private readonly max: number,
    private readonly hello: () => Record<string, unknown>,
  ) {
    feed.listen((event) => {
      for (const res of this.#open) this.#write(res, frame(event));
    });
    this.#heartbeat = setInterval(() => {
      for (const res of this.#open) this.#write(res, ': heartbeat\n\n');
    }, HEARTBEAT_MS);
    this.#heartbeat.unref();
  }

  get count(): number {
    return this.#open.size;
  }

  /** Sends the demo's state to every viewer now, and to every later one in its `hello`. */
  state(state: unknown): void {
    this.#state = state;
    const text = `event: state\ndata: ${JSON.stringify(state)}\n\n`;
    for (const res of this.#open) this.#write(res, text);
  }

  /** Answers `GET /events`. */
  serve(req: IncomingMessage, res: ServerResponse): void {
    if (this.#open.size >= this.max) {
      res.writeHead(503, { 'Content-Type': 'text/plain; charset=utf-8', 'Retry-After': '5' });
      res.end(`too many viewers (${this.max}); close another tab of this page\n`);
      return;
    }
    // An id this feed never gave was given by an earlier server on this port: start from the beginning.
    const header = lastEventId(req.headers['last-event-id']);
    const lastSeen = header !== undefined && header <= this.feed.last ? header : undefined;
    const history = this.feed.since(lastSeen ?? 0);
    const oldest = history[0]?.seq ?? this.feed.last + 1;
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-store',
      Connection: 'keep-alive',
    });
    this.#open.add(res);
    res.on('close', () => this.#open.delete(res));
    const hello = {
      ...this.hello(),
      state: this.#state,
      // Events that happened before the oldest one this viewer gets and that it never saw.
      missed: Math.max(0, oldest - 1 - (lastSeen ?? 0)),
      history: { kept: history.length, limits: this.feed.limits },
    };
    let text = `retry: ${RETRY_MS}\n\nevent: hello\ndata: ${JSON.stringify(hello)}\n\n`;
    for (const event of history) text += frame(event);
    this.#write(res, text);
  }

  /** Ends every stream (the server is closing). */
  close(): void {
    clearInterval(this.#heartbeat);
    for (const res of this.#open) res.end();
    this.#open.clear();
  }

  #write(res: ServerResponse, text: string): void {
    if (res.destroyed) return;
    res.write(text);
    if (res.writableLength > MAX_BACKLOG) {
      this.#open.delete(res);
      res.destroy();
    }
  }
}

function frame(event: StoredEvent): string {
  return `id: ${event.seq}\ndata: ${event.json}\n\n`;
}

/** The `Last-Event-ID` header as a number, or undefined when absent or not a plain count. */
function lastEventId(header: string | string[] | undefined): number | undefined {
  const text = Array.isArray(header) ? header[0] : header;
  if (text === undefined || !/^\d{1,15}$/.test(text)) return undefined;
  return Number(text);
}
