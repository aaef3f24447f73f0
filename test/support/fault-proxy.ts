/**
 * A fault-injecting TCP proxy on [::1] for the session's tests against a real broker. It forwards
 * raw bytes (TLS records, when it stands in front of a TLS listener) and can, per connection or
 * for all of them:
 *
 * - cut the connection after a chosen number of bytes in either direction, or after a time,
 *   with a FIN (`'close'`) or a RST (`'reset'`);
 * - stall: stop forwarding in both directions and keep both sockets open (a black hole, like a
 *   dead NAT entry: neither end hears anything, not even a FIN);
 * - delay every chunk in both directions (order kept);
 * - inject bytes towards the client (inside TLS that is a TLS error; in front of a plain TCP
 *   listener it reaches the client's MQTT decoder);
 * - refuse new connections (accept, then reset at once).
 *
 * ```ts
 * const proxy = await FaultProxy.start({ target: { host: '::1', port: broker.tlsPort } });
 * const client = new MqttClient({ host: '::1', port: proxy.port, ca: broker.ca, ... });
 * proxy.plan = (index) => ({ cutAfterClientBytes: 4000 });
 * proxy.stall();
 * await proxy.close();
 * ```
 */
import { EventEmitter, once } from 'node:events';
import { connect, createServer } from 'node:net';
import type { AddressInfo, Server, Socket } from 'node:net';
import { afterAll, beforeAll } from 'vitest';

/** How a cut looks to both ends: an orderly FIN after what was forwarded, or a RST. */
export type CutHow = 'close' | 'reset';

/** The faults of one connection, decided when the proxy accepts it. */
export interface ConnectionFaults {
  /** Cut once this many bytes have been forwarded from the client to the server. */
  readonly cutAfterClientBytes?: number;
  /** Cut once this many bytes have been forwarded from the server to the client. */
  readonly cutAfterServerBytes?: number;
  /** Cut this many milliseconds after the connection was accepted. */
  readonly cutAfterMs?: number;
  /** FIN (default) or RST. */
  readonly how?: CutHow;
}

export interface FaultProxyOptions {
  /** Where to forward to. */
  readonly target: { readonly host: string; readonly port: number };
  /** The faults of each new connection, by its index (0 for the first accepted). Default none. */
  readonly plan?: (index: number) => ConnectionFaults;
}

export interface FaultProxyEvents {
  connection: [connection: ProxiedConnection];
  cut: [connection: ProxiedConnection];
  refused: [];
}

/** One client connection and the proxy's connection to the target on its behalf. */
export class ProxiedConnection {
  /** Bytes forwarded from the client to the server so far. */
  clientBytes = 0;
  /** Bytes forwarded from the server to the client so far. */
  serverBytes = 0;
  /** Bytes read and dropped (stalled, or after a cut), by the side that sent them. */
  readonly dropped = { client: 0, server: 0 };
  /** The sides whose sockets have closed. */
  readonly closedSides = new Set<'client' | 'server'>();
  /** Why the proxy cut it, once it has. */
  cutReason: string | undefined;
  /** Forwarding has stopped: cut, stalled, or one end closed. */
  private stopped = false;
  private stalledFlag = false;
  private closedCount = 0;
  private cutTimer: NodeJS.Timeout | undefined;
  /** When the last delayed action is due, to keep the order of delayed chunks. */
  private lastDue = 0;
  readonly closed: Promise<void>;
  private resolveClosed!: () => void;

  constructor(
    readonly index: number,
    readonly client: Socket,
    readonly server: Socket,
    readonly faults: ConnectionFaults,
    private readonly proxy: FaultProxy,
  ) {
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve));
    client.on('data', (chunk: Buffer) => this.forward('client', chunk));
    server.on('data', (chunk: Buffer) => this.forward('server', chunk));
    for (const socket of [client, server]) {
      // Resets are part of the game; an unhandled 'error' would crash the test process.
      socket.on('error', () => undefined);
      socket.once('close', () => this.sideClosed(socket));
    }
    if (faults.cutAfterMs !== undefined) {
      this.cutTimer = setTimeout(() => this.cut(faults.how ?? 'close', `after ${faults.cutAfterMs} ms`), faults.cutAfterMs);
    }
  }

  /** True once stalled: nothing passes any more, and both sockets stay open. */
  get stalled(): boolean {
    return this.stalledFlag;
  }

  /** Both sockets have closed. */
  get finished(): boolean {
    return this.closedCount === 2;
  }

  /** Stops forwarding in both directions and keeps both sockets open (a black hole). */
  stall(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.stalledFlag = true;
    this.clearCutTimer();
  }

  /**
   * Stops reading from both sockets and keeps them open: unlike a stall, which reads and drops,
   * bytes pile up in the kernel's buffers until TCP's window closes, so the sender's writes meet
   * backpressure (a peer that stopped reading, or a saturated link).
   */
  freeze(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.stalledFlag = true;
    this.clearCutTimer();
    this.client.pause();
    this.server.pause();
  }

  /** Cuts the connection now: both ends see a FIN after what was forwarded, or a RST. */
  cut(how: CutHow, reason: string): void {
    if (this.stopped) return;
    this.stopped = true;
    this.cutReason = reason;
    this.clearCutTimer();
    this.proxy.noteCut(this);
    this.later(() => {
      for (const socket of [this.client, this.server]) {
        if (how === 'reset') socket.resetAndDestroy();
        else socket.destroySoon();
      }
    });
  }

  /** Writes `bytes` to the client, after whatever was forwarded to it before. */
  inject(bytes: Uint8Array): void {
    if (this.stopped) return;
    const copy = Buffer.from(bytes);
    this.later(() => this.client.write(copy));
  }

  /** Closes both sockets at once (the proxy is closing). */
  destroy(): void {
    this.stopped = true;
    this.clearCutTimer();
    this.client.destroy();
    this.server.destroy();
  }

  private forward(from: 'client' | 'server', chunk: Buffer): void {
    if (this.stopped) {
      // A stall drops everything; after a cut nothing more passes.
      this.dropped[from] += chunk.length;
      return;
    }
    const sent = from === 'client' ? this.clientBytes : this.serverBytes;
    const limit = from === 'client' ? this.faults.cutAfterClientBytes : this.faults.cutAfterServerBytes;
    const reached = limit !== undefined && sent + chunk.length >= limit;
    const part = reached ? chunk.subarray(0, Math.max(0, limit - sent)) : chunk;
    if (from === 'client') this.clientBytes += part.length;
    else this.serverBytes += part.length;
    const [source, target] = from === 'client' ? [this.client, this.server] : [this.server, this.client];
    if (part.length > 0) {
      if (this.proxy.delayMs === 0 && this.lastDue <= Date.now()) {
        if (!target.write(part)) {
          // Pass the target's backpressure on to the source, as a plain TCP path would.
          source.pause();
          target.once('drain', () => source.resume());
        }
      } else {
        this.later(() => target.write(part));
      }
    }
    if (reached) this.cut(this.faults.how ?? 'close', `after ${limit} bytes from the ${from}`);
  }

  /** Runs `action` after the proxy's delay, never before an action scheduled earlier. */
  private later(action: () => void): void {
    const now = Date.now();
    const due = Math.max(now + this.proxy.delayMs, this.lastDue);
    if (due <= now) {
      action();
      return;
    }
    this.lastDue = due;
    setTimeout(action, due - now);
  }

  private sideClosed(socket: Socket): void {
    this.closedCount += 1;
    this.closedSides.add(socket === this.client ? 'client' : 'server');
    // A stalled connection passes nothing on, not even a close: each end finds out for itself.
    if (!this.stalledFlag) {
      this.stopped = true;
      this.clearCutTimer();
      const other = socket === this.client ? this.server : this.client;
      this.later(() => other.destroySoon());
    }
    if (this.closedCount === 2) this.resolveClosed();
  }

  private clearCutTimer(): void {
    if (this.cutTimer !== undefined) clearTimeout(this.cutTimer);
    this.cutTimer = undefined;
  }
}

export class FaultProxy extends EventEmitter<FaultProxyEvents> {
  readonly host = '::1';
  /** The faults of each new connection; may be replaced at any time. */
  plan: (index: number) => ConnectionFaults;
  /** Milliseconds every chunk waits before it is forwarded (both directions). */
  delayMs = 0;
  /** Every connection accepted and forwarded, in order (refused ones are not kept). */
  readonly connections: ProxiedConnection[] = [];
  /** Connections the proxy cut (by plan or by `cutAll`). */
  cuts = 0;
  /** Connections refused while `refusing`. */
  refusedCount = 0;
  private refusing = false;
  private stallingNew = false;

  private constructor(
    private readonly server: Server,
    readonly port: number,
    private readonly target: FaultProxyOptions['target'],
    plan: FaultProxyOptions['plan'],
  ) {
    super();
    this.plan = plan ?? (() => ({}));
    server.on('connection', (socket) => this.accept(socket));
  }

  /** Starts a proxy on [::1] on a free port. */
  static async start(options: FaultProxyOptions): Promise<FaultProxy> {
    const server = createServer({ noDelay: true });
    server.listen({ host: '::1', port: 0 });
    await once(server, 'listening');
    return new FaultProxy(server, (server.address() as AddressInfo).port, options.target, options.plan);
  }

  /** Connections still forwarding (neither stalled nor cut nor closed). */
  get live(): ProxiedConnection[] {
    return this.connections.filter((c) => !c.finished && !c.stalled && c.cutReason === undefined);
  }

  /** While on, new connections are reset as soon as they are accepted. */
  refuse(on: boolean): void {
    this.refusing = on;
  }

  /** While on, new connections are stalled from the start (TCP connects; nothing else passes). */
  stallNew(on: boolean): void {
    this.stallingNew = on;
  }

  /** Freezes every open connection: nothing is read any more, so senders meet backpressure. */
  freeze(): void {
    for (const c of this.connections) if (!c.finished) c.freeze();
  }

  /** Black-holes every open connection (new ones forward normally unless `stallNew`). */
  stall(): void {
    for (const c of this.connections) if (!c.finished) c.stall();
  }

  /** Cuts every connection that is still forwarding. */
  cutAll(how: CutHow = 'close'): void {
    for (const c of this.live) c.cut(how, 'cutAll');
  }

  /** Writes `bytes` to the client of every connection still forwarding. */
  inject(bytes: Uint8Array): void {
    for (const c of this.live) c.inject(bytes);
  }

  /** Resolves with the next connection the proxy accepts and forwards. */
  nextConnection(ms = 10_000): Promise<ProxiedConnection> {
    return once(this, 'connection', { signal: AbortSignal.timeout(ms) }).then(([c]) => c as ProxiedConnection);
  }

  /** Stops listening and closes every connection. */
  async close(): Promise<void> {
    const closed = once(this.server, 'close');
    this.server.close();
    for (const c of this.connections) c.destroy();
    await closed;
  }

  /** @internal */
  noteCut(connection: ProxiedConnection): void {
    this.cuts += 1;
    this.emit('cut', connection);
  }

  private accept(client: Socket): void {
    if (this.refusing) {
      client.on('error', () => undefined);
      client.resetAndDestroy();
      this.refusedCount += 1;
      this.emit('refused');
      return;
    }
    client.setNoDelay(true);
    const server = connect({ host: this.target.host, port: this.target.port, noDelay: true });
    const index = this.connections.length;
    const connection = new ProxiedConnection(index, client, server, this.plan(index), this);
    this.connections.push(connection);
    if (this.stallingNew) connection.stall();
    this.emit('connection', connection);
  }
}

/**
 * Call inside a `describe`: a proxy for the suite in front of `target()` (read in `beforeAll`,
 * so it may name a broker started there), closed at the end. Runs after the hooks registered
 * before it, so register the broker first.
 */
export function useFaultProxy(target: () => FaultProxyOptions['target']): { readonly proxy: FaultProxy } {
  let proxy: FaultProxy | undefined;
  beforeAll(async () => {
    proxy = await FaultProxy.start({ target: target() });
  });
  afterAll(() => proxy?.close());
  return {
    get proxy(): FaultProxy {
      if (proxy === undefined) throw new Error('the proxy starts in beforeAll');
      return proxy;
    },
  };
}

/** A small seeded generator of numbers in [0, 1) (mulberry32), so a failing run can be repeated. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}
