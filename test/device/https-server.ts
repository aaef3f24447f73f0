/** A throwaway HTTPS server on [::1] with the loopback certificate, for the device tests. */
import { once } from 'node:events';
import { createServer } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { loopback } from '../transport/helpers.js';

export interface TestHttpsServer {
  readonly port: number;
  /** Requests seen, in order. */
  readonly requests: { method: string; url: string; headers: IncomingMessage['headers']; body: string }[];
  close(): Promise<void>;
}

/** Starts a server whose `handle` answers each request after its body has arrived. */
export async function startHttpsServer(handle: (request: IncomingMessage, body: string, response: ServerResponse) => void): Promise<TestHttpsServer> {
  const requests: TestHttpsServer['requests'] = [];
  const sockets = new Set<Socket>();
  const server = createServer({ cert: loopback.cert, key: loopback.key }, (request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      requests.push({ method: request.method ?? '', url: request.url ?? '', headers: request.headers, body });
      handle(request, body, response);
    });
  });
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.on('tlsClientError', () => {});
  server.listen({ host: '::1', port: 0 });
  await once(server, 'listening');
  return {
    port: (server.address() as AddressInfo).port,
    requests,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      server.close();
      await once(server, 'close');
    },
  };
}
