/**
 * The platform's session rules as checks a client calls before anything goes on the wire. Each
 * throws a ConfigurationError whose `field` names the offending option (`keepalive`, `qos`,
 * `retain`, `will`, `payload`, `topic`) and whose message quotes the rule and the fix.
 */
import { ConfigurationError } from '../shared/errors.js';
import { requireIntegerIn, utf8Length } from '../shared/validate.js';

/** The platform's numeric limits. */
export const PLATFORM_LIMITS = Object.freeze({
  /** Keep Alive below this many seconds is refused. */
  minKeepalive: 30,
  /** Keep Alive above this many seconds is refused. */
  maxKeepalive: 1200,
  /** The keepalive used when none is given; the platform recommends 300 or more. */
  defaultKeepalive: 300,
  /** Upstream message size limit: 256 KB, read as 256 * 1024 = 262,144 bytes (inclusive). */
  maxPayloadBytes: 256 * 1024,
  /** Topic length limit, counted in UTF-8 bytes (the stricter reading; equal to characters for ASCII). */
  maxTopicLength: 128,
  /** The highest QoS the platform supports. */
  maxQos: 1,
  /**
   * The largest PUBLISH a device sends, as a whole packet: a 256 KB payload with a 128-byte
   * topic, a packet id and a 5-byte fixed header. The client's `maxOutgoingPacketSize` for the
   * platform, so that a larger message is refused before it is sent.
   */
  maxPacketBytes: 256 * 1024 + 128 + 2 + 2 + 5,
});

const KEEPALIVE_RULE =
  `the platform refuses Keep Alive outside ${PLATFORM_LIMITS.minKeepalive}..${PLATFORM_LIMITS.maxKeepalive} seconds ` +
  `(CONNACK 3); use a whole number in that range, ${PLATFORM_LIMITS.defaultKeepalive} or more is recommended`;

/**
 * `seconds` as a keepalive the platform accepts: an integer in 30..1200.
 *
 * @throws ConfigurationError (`field` `keepalive`) quoting the platform's rule.
 */
export function checkKeepalive(seconds: unknown): number {
  return requireIntegerIn('keepalive', seconds, PLATFORM_LIMITS.minKeepalive, PLATFORM_LIMITS.maxKeepalive, KEEPALIVE_RULE);
}

/** The CONNECT settings the platform constrains. */
export interface PlatformConnectSettings {
  readonly keepalive: number;
  /** Any will at all is refused: the platform has no will messages. */
  readonly will?: unknown;
}

/**
 * Checks CONNECT settings against the platform: keepalive in 30..1200 and no will message.
 *
 * @throws ConfigurationError with `field` `keepalive` or `will`.
 */
export function checkPlatformConnect(settings: PlatformConnectSettings): void {
  checkKeepalive(settings.keepalive);
  if (settings.will !== undefined && settings.will !== null) {
    throw new ConfigurationError(
      'will',
      'the platform does not support will messages; leave will out (the platform reports a device going offline itself)',
    );
  }
}

/** The PUBLISH settings the platform constrains. */
export interface PlatformPublishSettings {
  readonly qos: number;
  readonly retain?: boolean | undefined;
}

/**
 * Checks an outgoing PUBLISH against the platform: QoS 0 or 1, not retained, a topic of at most
 * 128 characters, a payload of at most 256 KB (262,144 bytes; a string counts its UTF-8 bytes).
 *
 * @throws ConfigurationError with `field` `qos`, `retain`, `topic` or `payload`.
 */
export function checkPlatformPublish(
  topic: string,
  payload: Uint8Array | string,
  settings: PlatformPublishSettings,
): void {
  checkQos(settings.qos, 'publish');
  if (settings.retain === true) {
    throw new ConfigurationError('retain', 'the platform does not support retained messages; publish with retain false');
  }
  checkTopicLength(topic);
  const bytes = typeof payload === 'string' ? utf8Length(payload) : payload.byteLength;
  if (bytes > PLATFORM_LIMITS.maxPayloadBytes) {
    throw new ConfigurationError(
      'payload',
      `is ${bytes} bytes; the platform's upstream limit is 256 KB (${PLATFORM_LIMITS.maxPayloadBytes} bytes): ` +
        'send less per message, or upload the data elsewhere and publish a reference',
    );
  }
}

/**
 * Checks a subscription against the platform: QoS 0 or 1 and a filter of at most 128 characters.
 *
 * @throws ConfigurationError with `field` `qos` or `topic`.
 */
export function checkPlatformSubscribe(topicFilter: string, qos: number): void {
  checkQos(qos, 'subscribe');
  checkTopicLength(topicFilter);
}

function checkQos(qos: number, verb: string): void {
  if (qos !== 0 && qos !== 1) {
    throw new ConfigurationError('qos', `got ${String(qos)}; the platform supports QoS 0 and 1 only (no QoS 2): ${verb} with qos 1`);
  }
}

function checkTopicLength(topic: string): void {
  const length = utf8Length(topic);
  if (length > PLATFORM_LIMITS.maxTopicLength) {
    throw new ConfigurationError(
      'topic',
      `is ${length} characters; the platform allows at most ${PLATFORM_LIMITS.maxTopicLength}: use a shorter topic`,
    );
  }
}
