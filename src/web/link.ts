/**
 * The network between the page's demo device and the stand-in: a TCP relay on the loopback that
 * passes bytes through untouched (TLS runs end to end through it) and can be cut, the way a NAT
 * that forgets a mapping or a mobile link that drops cuts a real device off.
 *
 * The stand-in offers no way to drop a connection from outside, and a test fixture should not
 * need one: a broken network is the network's business, so it lives here, between the two.
 */
import { once } from 'node:events';
import type { AddressInfo, Server, Socket } from 'node:net';
import { nodeNet } from '../shared/builtins.js';

export class CuttableLink {
  readonly #server: Server;
  /** Each device-side socket and the stand-in-side socket it is relayed to. */
  readonly #pairs = new Map<Socket, Socket>();

  private constructor(
    server: Server,
    private readonly target: { readonly host: string; readonly port: number },
  ) {
    this.#server = server;
  }

  /** Listens on `host` (a free port) and relays every connection to `target`. */
  static async open(host: string, target: { readonly host: string; readonly port: number }): Promise<CuttableLink> {
    const server = nodeNet().createServer();
    const link = new CuttableLink(server, target);
    server.on('connection', (socket) => link.#relay(socket));
    server.listen({ host, port: 0 });
    await once(server, 'listening');
    return link;
  }

  get port(): number {
    return (this.#server.address() as AddressInfo).port;
  }

  /**
   * Cuts every connection at once, in both directions: bytes either side has written and the
   * other has not yet read are lost, as on a real network. New connections still get through.
   */
  cut(): void {
    for (const [device, platform] of this.#pairs) {
      device.destroy();
      platform.destroy();
    }
    this.#pairs.clear();
  }

  /** Cuts everything and stops listening. */
  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    this.cut();
    await closed;
  }

  #relay(device: Socket): void {
    const platform = nodeNet().connect({ host: this.target.host, port: this.target.port });
    this.#pairs.set(device, platform);
    device.setNoDelay(true);
    platform.setNoDelay(true);
    device.pipe(platform);
    platform.pipe(device);
    // A failure cuts both sides; a close ends the other side cleanly, after what was written to it
    // (a DISCONNECT, say) has gone out. `pipe` already ends each side when the other sends FIN.
    const drop = (): void => {
      this.#pairs.delete(device);
      device.destroy();
      platform.destroy();
    };
    device.on('error', drop);
    platform.on('error', drop);
    device.on('close', () => {
      this.#pairs.delete(device);
      platform.end();
    });
    platform.on('close', () => {
      this.#pairs.delete(device);
      device.end();
    });
  }
}
