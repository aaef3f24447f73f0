/**
 * The listener: the stand-in's socket, TLS on each connection when configured, and every socket
 * it accepted, so that closing ends them all. What is said over a connection is the session's.
 */
import { once } from 'node:events';
import type { AddressInfo, Server, Socket } from 'node:net';
import { isIP, nodeNet, nodeTls } from '../shared/builtins.js';
import { EmulatorError } from './errors.js';
import type { ResolvedEmulatorOptions } from './options.js';
import { CONNECT_TIMEOUT_MS } from './session.js';

/** Hands each connection, ready for MQTT, to whoever serves it. */
export type AcceptConnection = (socket: Socket) => void;

export class Listener {
  readonly #server: Server;
  /** Raw sockets, so that closing also ends connections still in their TLS handshake. */
  readonly #sockets = new Set<Socket>();
  #address: AddressInfo | undefined;

  private constructor(options: ResolvedEmulatorOptions, accept: AcceptConnection) {
    const tls = options.tls;
    this.#server = tls
      ? nodeTls().createServer({ cert: tls.cert, key: tls.key, minVersion: 'TLSv1.2', handshakeTimeout: CONNECT_TIMEOUT_MS })
      : nodeNet().createServer();
    this.#server.on(tls ? 'secureConnection' : 'connection', accept);
    this.#server.on('connection', (socket: Socket) => {
      this.#sockets.add(socket);
      socket.once('close', () => this.#sockets.delete(socket));
    });
  }

  /**
   * Listens where `options` say.
   *
   * @throws EmulatorError `listen-failed`, with a hint for a missing IPv6 loopback or a port in use.
   */
  static async open(options: ResolvedEmulatorOptions, accept: AcceptConnection, onError: (error: Error) => void): Promise<Listener> {
    const listener = new Listener(options, accept);
    const { host, port } = options;
    listener.#server.listen({ host, port });
    try {
      await once(listener.#server, 'listening');
    } catch (cause) {
      const code = (cause as { code?: unknown }).code;
      const hint =
        code === 'EADDRNOTAVAIL' && isIP(host) === 6
          ? "; this machine has no IPv6 loopback: pass host: '127.0.0.1'"
          : code === 'EADDRINUSE'
            ? '; another process listens there: pass port: 0 for a free port'
            : '';
      throw new EmulatorError('listen-failed', `cannot listen on ${host}:${port} (${String(code ?? cause)})${hint}`, { cause });
    }
    listener.#address = listener.#server.address() as AddressInfo;
    // From here on an error of the listening socket itself is the only thing reported.
    listener.#server.on('error', onError);
    return listener;
  }

  /** Where it listens. */
  get address(): AddressInfo {
    return this.#address!;
  }

  /** Stops listening and ends every connection; resolves once all are closed. */
  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    for (const socket of this.#sockets) socket.destroy();
    await closed;
  }
}
