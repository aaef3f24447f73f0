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

/**
 * How long the platform keeps a QoS 1 message for a device: "QoS=1的消息在物联网平台中最多可以保存7天。
 * 物联网平台不保存QoS=0的消息" (at most seven days; QoS 0 messages are not kept), the BatchPub API
 * page of the IoT Platform (help.aliyun.com, BatchPub, parameter Qos). The default of the
 * `sessions.messageExpiry` option.
 */
export const MESSAGE_EXPIRY_MS = 7 * 24 * 60 * 60 * 1000;

/**
 * How long a Clean Session 0 session outlives its connection, by default (`sessions.expiry`).
 * The platform's page on session expiry says an MQTT 3.1.1 session "is retained until the device
 * reconnects" (help.aliyun.com/zh/iot/user-guide/session-expiry), with no end; the stand-in ends
 * it when the last message it could hold has expired ({@link MESSAGE_EXPIRY_MS}), so that a
 * device that never comes back does not hold its session for ever.
 */
export const SESSION_EXPIRY_MS = MESSAGE_EXPIRY_MS;

/**
 * The QoS 1 messages one kept session holds (unacknowledged and queued while the device is
 * offline), in number and in payload bytes (`sessions.maxMessages`, `sessions.maxBytes`). The
 * platform documents no count; these are the stand-in's, large enough for any test and small
 * enough that a device that never acknowledges costs little.
 */
export const MAX_SESSION_MESSAGES = 1_000;
export const MAX_SESSION_BYTES = 4 * 1024 * 1024;

/**
 * What every kept session of devices that are offline holds together
 * (`sessions.maxTotalMessages`, `sessions.maxTotalBytes`): the most the stand-in keeps for
 * devices that are not there.
 */
export const MAX_KEPT_MESSAGES = 100_000;
export const MAX_KEPT_BYTES = 64 * 1024 * 1024;
