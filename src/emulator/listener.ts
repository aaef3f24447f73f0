/**
 * The listener: the stand-in's TCP socket, TLS on each connection when configured, and the
 * connect deadline, which runs from the moment TCP accepts a connection. A peer that completes
 * neither the TLS handshake nor a CONNECT in time is closed, so that raw connections left open by
 * a scanner or an attacker cannot pile up until the process runs out of file descriptors. What is
 * said over an established connection is the session's business.
 */
import { once } from 'node:events';
import type { AddressInfo, Server, Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { isIP, nodeNet, nodeTls } from '../shared/builtins.js';
import { EmulatorError } from './errors.js';
import type { ResolvedEmulatorOptions } from './options.js';
import type { RefuseReason, TracedConnection } from './types.js';

/** What the listener tells the platform it serves. */
export interface ListenerHost {
  /**
   * A connection is ready for MQTT: over TCP at once, over TLS once the handshake is done. Its
   * CONNECT must be accepted by `deadline` (on the clock); the session that takes it enforces that.
   */
  accept(socket: Socket, connection: TracedConnection, deadline: number): void;
  /**
   * A connection ended before it was ready for MQTT: its TLS handshake failed or did not finish
   * by the deadline, the peer left, or the listener closed. Called once per such connection.
   */
  lost(connection: TracedConnection, reason: Extract<RefuseReason, 'connect-timeout' | 'tls-handshake-failed' | 'connection-lost' | 'server-closed'>, message: string): void;
}

/** A connection still in its TLS handshake. */
interface Handshake {
  readonly socket: TLSSocket;
  readonly connection: TracedConnection;
  readonly timer: unknown;
}

export class Listener {
  readonly #options: ResolvedEmulatorOptions;
  readonly #host: ListenerHost;
  readonly #server: Server;
  /** Every socket not yet closed, handshaking or handed over, so that closing ends them all. */
  readonly #sockets = new Set<Socket>();
  readonly #handshakes = new Set<Handshake>();
  #nextId = 1;
  #address: AddressInfo | undefined;
  #closed = false;

  private constructor(options: ResolvedEmulatorOptions, host: ListenerHost) {
    this.#options = options;
    this.#host = host;
    this.#server = nodeNet().createServer((socket) => this.#connected(socket));
  }

  /**
   * Listens where `options` say.
   *
   * @throws EmulatorError `listen-failed`, with a hint for a missing IPv6 loopback or a port in use.
   */
  static async open(options: ResolvedEmulatorOptions, host: ListenerHost, onError: (error: Error) => void): Promise<Listener> {
    const listener = new Listener(options, host);
    const server = listener.#server;
    server.listen({ host: options.host, port: options.port });
    try {
      await once(server, 'listening');
    } catch (cause) {
      const code = (cause as { code?: unknown }).code;
      const hint =
        code === 'EADDRNOTAVAIL' && isIP(options.host) === 6
          ? "; this machine has no IPv6 loopback: pass host: '127.0.0.1'"
          : code === 'EADDRINUSE'
            ? '; another process listens there: pass port: 0 for a free port'
            : '';
      throw new EmulatorError('listen-failed', `cannot listen on ${options.host}:${options.port} (${String(code ?? cause)})${hint}`, { cause });
    }
    listener.#address = server.address() as AddressInfo;
    // From here on an error of the listening socket itself is the only thing reported.
    server.on('error', onError);
    return listener;
  }

  /** Where it listens. */
  get address(): AddressInfo {
    return this.#address!;
  }

  /**
   * Stops listening and ends every connection still open (handshakes are reported `lost` with
   * `server-closed`); resolves once all are closed.
   */
  async close(): Promise<void> {
    this.#closed = true;
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    for (const handshake of [...this.#handshakes]) this.#fail(handshake, 'server-closed', 'the emulator is closing');
    for (const socket of this.#sockets) socket.destroy();
    await closed;
  }

  #connected(raw: Socket): void {
    if (this.#closed) {
      raw.destroy();
      return;
    }
    const connection: TracedConnection = Object.freeze({ id: this.#nextId++, remoteAddress: raw.remoteAddress ?? '' });
    const { clock, connectTimeout, tls } = this.#options;
    const deadline = clock.now() + connectTimeout;
    if (tls === undefined) {
      this.#track(raw);
      this.#host.accept(raw, connection, deadline);
      return;
    }
    // The TCP socket is wrapped here rather than by a tls.Server, so that the deadline, the
    // handshake's failure and its success all belong to the one connection they concern.
    raw.on('error', () => {}); // the TLS socket above reports it
    // X.509 mode asks for a certificate but lets a device without one in: admission decides, and
    // says why in its refusal (a Node server that rejected it here would close without a word).
    const x509 = this.#options.x509 !== undefined;
    const socket = new (nodeTls().TLSSocket)(raw, { isServer: true, secureContext: tls.context, requestCert: x509, rejectUnauthorized: false });
    this.#track(socket);
    const handshake: Handshake = {
      socket,
      connection,
      timer: clock.setTimeout(
        () => this.#fail(handshake, 'connect-timeout', `the TLS handshake did not complete within ${connectTimeout} ms`),
        connectTimeout,
      ),
    };
    this.#handshakes.add(handshake);
    socket.once('secure', () => {
      if (!this.#settle(handshake)) return;
      this.#host.accept(socket, connection, deadline);
    });
    socket.on('error', (error) => this.#fail(handshake, 'tls-handshake-failed', `the TLS handshake failed: ${handshakeProblem(error)}`));
    socket.once('close', () => this.#fail(handshake, 'connection-lost', 'the peer closed the connection during the TLS handshake'));
  }

  #track(socket: Socket): void {
    this.#sockets.add(socket);
    socket.once('close', () => this.#sockets.delete(socket));
  }

  /** Ends the handshake's wait; `false` when it was over already. */
  #settle(handshake: Handshake): boolean {
    if (!this.#handshakes.delete(handshake)) return false;
    this.#options.clock.clearTimeout(handshake.timer);
    return true;
  }

  #fail(handshake: Handshake, reason: Parameters<ListenerHost['lost']>[1], message: string): void {
    if (!this.#settle(handshake)) return;
    handshake.socket.destroy();
    this.#host.lost(handshake.connection, reason, message);
  }
}

/**
 * OpenSSL's reason for a failed handshake, without its source file and line, and what it usually
 * means when a tool was pointed at the wrong port.
 */
function handshakeProblem(error: Error & { code?: unknown; reason?: unknown }): string {
  switch (error.code) {
    case 'ERR_SSL_HTTP_REQUEST':
      return 'the peer spoke HTTP, not TLS';
    case 'ERR_SSL_WRONG_VERSION_NUMBER':
      return 'the peer did not start TLS 1.2 or newer (plain MQTT on this TLS port? connect with TLS)';
    default:
      return typeof error.reason === 'string' ? error.reason : error.message.trim();
  }
}
