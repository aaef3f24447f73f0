import { isIP, nodeDns, nodeNet, nodeTls } from '../shared/builtins.js';
import type { LookupFunction, OnReadOpts, Socket, TcpSocketConnectOpts } from 'node:net';
import type { ConnectionOptions, TLSSocket } from 'node:tls';
import type { FailureContext, OtherFamilyLookup, TransportError, TransportPhase } from './errors.js';
import { abortedError, closedEarlyError, connectTimeoutError, errorCode, LOOKUP_NOT_FOUND, toTransportError } from './failures.js';
import { resolveTransportOptions } from './options.js';
import type { ResolvedTransportOptions, TransportOptions } from './options.js';

/**
 * Opens a TCP or TLS connection for an MQTT session and resolves once it is ready to carry
 * bytes: on `connect` for TCP, on `secureConnect` (certificate verified) for TLS.
 *
 * The attempt, from name lookup to the end of the TLS handshake, is bounded by
 * `connectTimeout` and can be cancelled with `signal`; either way the socket is destroyed and
 * the promise rejects with a {@link TransportError}. Bad options reject with a
 * ConfigurationError before any socket is opened.
 *
 * Once resolved, the socket belongs to the caller: no timer, signal or listener of this function
 * remains on it, so the caller must add its own `error` listener straight away (in the same
 * tick as the `await` returns).
 */
export async function openTransport(options: TransportOptions): Promise<Socket> {
  return openResolvedTransport(resolveTransportOptions(options));
}

/**
 * {@link openTransport} for options already checked by `resolveTransportOptions`: what the MQTT
 * session uses for every attempt, so that its options are validated once, at construction.
 */
export function openResolvedTransport(options: ResolvedTransportOptions): Promise<Socket> {
  return open(options, undefined);
}

/**
 * {@link openTransport} for a connection read through Node's `onread`: each TLS record (or TCP
 * read) is decrypted into `onread.buffer`, reused every time, and handed to `onread.callback`
 * instead of being pushed through the stream as a new Buffer; the socket never emits `'data'`.
 * For a bulk download this takes about a fifth of the CPU off the client (see docs/ota.md).
 * Node reads `onread` only when it creates the socket, hence an option of the transport.
 *
 * The callback runs from the moment the connection is up, before this resolves, and must not
 * throw (nothing would catch it); returning `false` pauses the socket until `socket.resume()`,
 * but the bytes Node has already decrypted from the same read still arrive.
 *
 * @internal
 */
export function openTransportReading(options: TransportOptions, onread: OnReadOpts): Promise<Socket> {
  return open(resolveTransportOptions(options), onread);
}

function open(options: ResolvedTransportOptions, onread: OnReadOpts | undefined): Promise<Socket> {
  return new Promise<Socket>((resolve, reject) => {
    // The phase lives in a small object of its own: the lookup wrapper below needs it, and Node
    // keeps that wrapper (with the connect options) for the socket's whole life, so the wrapper
    // must not hold on to this attempt's listeners, timer and signal.
    const progress: Progress = { phase: isIP(options.host) === 0 ? 'lookup' : 'tcp' };
    const context = (extra?: Partial<FailureContext>): FailureContext => ({
      host: options.host,
      port: options.port,
      family: options.family,
      phase: progress.phase,
      otherFamily: progress.otherFamily,
      clientCertificate: options.secureContext !== undefined,
      ...extra,
    });

    const { signal } = options;
    if (signal?.aborted === true) {
      reject(abortedError(context(), signal.reason, false));
      return;
    }

    const tcpOptions: TcpSocketConnectOpts = {
      host: options.host,
      port: options.port,
      family: options.family,
    };
    if (onread !== undefined) tcpOptions.onread = onread;
    // Node looks up names only (an address is used as it is) and keeps the function for the
    // socket's life: an address gets none, and its idle connection holds no progress object.
    if (progress.phase === 'lookup') tcpOptions.lookup = deferredLookup(options.lookup ?? (nodeDns().lookup as LookupFunction), options.family, progress);

    const socket = options.transport === 'tls' ? nodeTls().connect(tlsOptions(options, tcpOptions)) : nodeNet().connect(tcpOptions);
    const readyEvent = options.transport === 'tls' ? 'secureConnect' : 'connect';

    const onConnect = (): void => {
      progress.phase = 'tls';
    };
    const onReady = (): void => {
      cleanup();
      socket.setNoDelay(true);
      resolve(socket);
    };
    // Our Finished went out: whatever the server then refused, it refused after our whole flight.
    const clientFinished = (): boolean => readyEvent === 'secureConnect' && (socket as TLSSocket).getFinished?.() !== undefined;
    const onError = (error: Error): void => {
      const certificateRejected = Boolean((socket as TLSSocket).authorizationError);
      fail(toTransportError(error, context({ certificateRejected, clientFinished: clientFinished() })));
    };
    const onClose = (hadError: boolean): void => {
      if (!hadError) {
        fail(closedEarlyError(context({ clientFinished: clientFinished() })));
      }
    };
    const onAbort = (): void => {
      fail(abortedError(context(), signal?.reason, true));
    };
    const { clock } = options;
    const timer = clock.setTimeout(() => {
      fail(connectTimeoutError(context(), options.connectTimeout));
    }, options.connectTimeout);

    function cleanup(): void {
      clock.clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      if (readyEvent !== 'connect') {
        socket.off('connect', onConnect);
      }
      socket.off(readyEvent, onReady);
      socket.off('error', onError);
      socket.off('close', onClose);
    }

    function fail(error: TransportError): void {
      cleanup();
      socket.destroy();
      reject(error);
    }

    if (readyEvent !== 'connect') {
      socket.once('connect', onConnect);
    }
    socket.once(readyEvent, onReady);
    socket.once('error', onError);
    socket.once('close', onClose);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

interface Progress {
  phase: TransportPhase;
  otherFamily?: OtherFamilyLookup;
}

/**
 * Wraps the resolver to see the lookup finish. Its answer is always passed on in a later tick:
 * a resolver that calls back synchronously would make Node connect, fail and even throw
 * (setting SNI on the destroyed socket) inside tls.connect(), before any listener of ours
 * exists.
 *
 * When a lookup in one family finds nothing, a second one in the other family tells a name that
 * has only addresses of that family (an AAAA record missing: the usual first failure over IPv6)
 * from a name that does not resolve at all, whose error must not advise the other family.
 */
function deferredLookup(resolver: LookupFunction, wanted: 0 | 4 | 6, progress: Progress): LookupFunction {
  return (hostname, lookupOptions, callback) => {
    resolver(hostname, lookupOptions, (error, address, family) => {
      const code = error ? errorCode(error) : undefined;
      if (wanted === 0 || code === undefined || !LOOKUP_NOT_FOUND.has(code)) {
        process.nextTick(() => {
          if (!error && progress.phase === 'lookup') {
            progress.phase = 'tcp';
          }
          callback(error, address, family);
        });
        return;
      }
      const other = wanted === 6 ? 4 : 6;
      let answered = false;
      const answer = (otherError: unknown): void => {
        if (answered) return; // a resolver that calls back twice does not get to answer twice
        answered = true;
        progress.otherFamily = { family: other, outcome: lookupOutcome(otherError), code: otherError ? errorCode(otherError) : undefined };
        process.nextTick(() => callback(error, address, family));
      };
      try {
        resolver(hostname, { family: other }, answer);
      } catch (thrown) {
        answer(thrown ?? new Error('the resolver threw'));
      }
    });
  };
}

function lookupOutcome(error: unknown): OtherFamilyLookup['outcome'] {
  if (!error) return 'found';
  const code = errorCode(error);
  return code !== undefined && LOOKUP_NOT_FOUND.has(code) ? 'not-found' : 'failed';
}

function tlsOptions(options: ResolvedTransportOptions, tcpOptions: TcpSocketConnectOpts): ConnectionOptions {
  if (options.secureContext !== undefined) {
    // The context holds the client certificate and key, the trusted CAs and the TLS 1.2 floor.
    return {
      ...tcpOptions,
      secureContext: options.secureContext,
      rejectUnauthorized: options.rejectUnauthorized,
      servername: options.servername,
    };
  }
  return {
    ...tcpOptions,
    // The platform requires TLS 1.2 at least; saying so here keeps that true even where Node's
    // default minimum has been lowered (tls.DEFAULT_MIN_VERSION, --tls-min-v1.0).
    minVersion: 'TLSv1.2',
    ca: options.ca,
    rejectUnauthorized: options.rejectUnauthorized,
    // Left undefined, Node sends no SNI; it then checks the certificate against `host`.
    servername: options.servername,
  };
}
