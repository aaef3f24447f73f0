/**
 * What the cloud side of the stand-in is made of: services (the thing model, RRPC, the gateway;
 * later OTA, NTP, shadow) that each read the device messages meant for them and send their
 * own through the platform's routing. A service never touches a socket.
 */
import type { Clock } from '../../shared/clock.js';
import type { AlinkTopic } from '../../aliyun/alink/topics.js';
import { ConfigurationError } from '../../shared/errors.js';
import { EmulatorError } from '../errors.js';
import type { OnlineDevice } from '../presence.js';
import type { Session } from '../session.js';

/**
 * The QoS the cloud publishes its own messages with (requests, RRPC, post replies), lowered to
 * what the device's subscription grants: QoS 1 exercises the device's PUBACK path.
 */
export const CLOUD_QOS = 1;

/** What a service may use of the platform. */
export interface CloudContext {
  readonly clock: Clock;
  /**
   * Publishes as the cloud to every matching subscription at `qos` (default {@link CLOUD_QOS},
   * or 0 for a sub-device's topic: the platform carries sub-device messages at QoS 0); nobody
   * waits for PUBACK.
   */
  send(topic: string, payload: Uint8Array | string, qos?: 0 | 1): void;
  /**
   * The online device a cloud-side call addresses, after checking the call's timeout.
   *
   * @throws ConfigurationError for a timeout that is not a positive number of milliseconds;
   *   EmulatorError `closed` once the emulator is closing, `not-connected` for an offline device.
   */
  target(productKey: string, deviceName: string, timeoutMs: number): OnlineDevice;
}

/** One part of the cloud side. */
export interface CloudService {
  /** `device` published on one of its own topics (already routed to subscribers), read as `kind`. */
  published(device: OnlineDevice, topic: string, kind: AlinkTopic, payload: Uint8Array): void;
  /** A device's connection ended: fail what waits on it with `error`. */
  disconnected(session: Session, error: EmulatorError): void;
  /** The emulator is closing: fail everything that waits with `error`. */
  closing(error: EmulatorError): void;
}

/** @throws ConfigurationError unless `timeoutMs` is a finite number of milliseconds above 0. */
export function checkTimeout(timeoutMs: unknown): void {
  if (typeof timeoutMs !== 'number' || !Number.isFinite(timeoutMs) || timeoutMs <= 0) {
    throw new ConfigurationError('timeoutMs', `got ${String(timeoutMs)}; give milliseconds greater than 0`);
  }
}

/** @throws EmulatorError `not-subscribed` when `device` would never see a message on `topic`. */
export function checkSubscribed(device: OnlineDevice, topic: string): void {
  if (device.session.grantedQos(topic) < 0) {
    throw new EmulatorError(
      'not-subscribed',
      `device ${device.topics.deviceName} has no subscription matching ${topic}, so it would never see the request; subscribe to it first`,
    );
  }
}
