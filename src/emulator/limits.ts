/**
 * What the stand-in allows one connection, in bytes and in time: enough for any device that
 * follows the platform's rules, and little enough that a peer that does not cannot make it hold
 * much, or hold it long.
 */
import { PLATFORM_LIMITS } from '../aliyun/limits.js';

/**
 * How long a connection may take, from the moment TCP accepts it, to complete the TLS handshake
 * and send its CONNECT (the `connectTimeout` option's default). MQTT leaves the figure to the
 * server ("a reasonable amount of time", section 3.1.4) and the platform does not publish its own.
 */
export const CONNECT_TIMEOUT_MS = 10_000;

/**
 * The largest frame accepted: the platform's 256 KiB payload limit plus 1 KiB of headroom, more
 * than the fixed header (5 bytes), a 128-character topic with its length and a packet id need.
 * A larger frame is refused from its fixed header, before its body is buffered.
 */
export const MAX_INBOUND_PACKET = PLATFORM_LIMITS.maxPayloadBytes + 1024;

/**
 * The most a connection may send before its CONNECT is accepted, CONNECT included. A CONNECT the
 * platform accepts is small (a 64-character clientId and its extension, `deviceName&productKey`,
 * a 64-digit signature: about 300 bytes); 2 KiB leaves room for the extension fields SDKs add.
 */
export const MAX_CONNECT_BYTES = 2048;

/**
 * How long a connection the emulator ends (a refusal, a violation, a timeout) may take to close
 * its side after the emulator closed its own, before it is destroyed. Ending rather than
 * destroying sends what was written, then TLS's close_notify and a FIN, so a client can tell a
 * deliberate close from a lost connection; the wait keeps a peer that never closes from holding
 * the socket.
 */
export const CLOSE_GRACE_MS = 2_000;
