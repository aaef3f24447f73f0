/**
 * How the session reads a failure: which errors recur on every attempt, what a socket error
 * becomes, and the errors it makes itself.
 */
import type { Packet } from '../packet/types.js';
import { ConfigurationError } from '../shared/errors.js';
import { TransportError } from '../transport/errors.js';
import { ConnectionRefusedError, MqttClientError, UnexpectedPacketError } from './errors.js';
import type { ConnackHint } from './errors.js';
import type { ResolvedClientOptions } from './options.js';

export function toError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

export function endedError(): MqttClientError {
  return new MqttClientError('client-ended', 'the client was ended (end() or its signal) before this completed');
}

export function closedError(): MqttClientError {
  return new MqttClientError('connection-closed', 'the server (or the network) closed the connection');
}

export function unexpected(packet: Packet, message: string): UnexpectedPacketError {
  return new UnexpectedPacketError(packet.type, message);
}

/** The caller's reading of a refusal; a hint function that throws must not hide the refusal. */
export function hintFor(connackHint: ResolvedClientOptions['connackHint'], returnCode: number): ConnackHint | undefined {
  try {
    return connackHint?.(returnCode);
  } catch {
    return undefined;
  }
}

export function toTransportFailure(error: Error, host: string, port: number): Error {
  if (error instanceof TransportError) return error;
  return new MqttClientError('connection-closed', `the connection to ${host} port ${port} failed: ${error.message}`, { cause: error });
}

/** Errors that will recur on every attempt: reconnecting would only hammer the server. */
export function isFatal(error: Error): boolean {
  if (error instanceof ConnectionRefusedError) return !error.retryable;
  if (error instanceof ConfigurationError) return true;
  // A certificate either side refused (the server's, or ours as the server read it) fails alike next time.
  if (error instanceof TransportError) return !error.retryable;
  return false;
}
