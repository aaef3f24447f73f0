/**
 * What the stand-in's HTTPS server allows one connection and one request, in bytes and in time.
 * The files it serves are large (firmware) and its other answers small (a registration's JSON);
 * what a peer sends it before it is answered is small in every case, so that is what is bounded.
 */

/** The bounds, all overridable for tests. */
export interface HttpLimits {
  /** Bytes of a request head, request line included (Node's `maxHeaderSize`); beyond: 431. */
  readonly maxHeaderBytes: number;
  /** Header lines of a request; beyond: 431. */
  readonly maxHeaders: number;
  /** Bytes of a request body when the route names no other bound; beyond: 413. */
  readonly maxBodyBytes: number;
  /** Characters of a request target (path and query); beyond: 414. */
  readonly maxTargetLength: number;
  /** Milliseconds from a connection's first byte (or the end of its last answer) to the end of the next request head; beyond: 408 and closed. */
  readonly headersTimeout: number;
  /** Milliseconds for a whole request, body included; beyond: 408 and closed. */
  readonly requestTimeout: number;
  /** Milliseconds for the TLS handshake; a peer that has not finished it is closed. */
  readonly handshakeTimeout: number;
  /** Milliseconds a connection may go without a byte in or out (a stalled reader, an idle keep-alive) before it is closed. */
  readonly idleTimeout: number;
  /** Connections open at once; more are refused at accept. */
  readonly maxConnections: number;
}

export const HTTP_LIMITS: HttpLimits = Object.freeze({
  maxHeaderBytes: 8 * 1024,
  maxHeaders: 64,
  maxBodyBytes: 64 * 1024,
  maxTargetLength: 2048,
  headersTimeout: 10_000,
  requestTimeout: 30_000,
  handshakeTimeout: 10_000,
  idleTimeout: 30_000,
  maxConnections: 128,
});
