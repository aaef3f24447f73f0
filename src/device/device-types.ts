/**
 * The public shape of a connected device: the handle {@link connectDevice} resolves with, its
 * events, and the handlers it calls for the cloud's requests. The implementation is `device.ts`.
 */
import type { EventEmitter } from 'node:events';
import type { EndOptions, EndReport, MqttClient } from '../client/client.js';
import type { AlinkReply, AlinkRequest } from '../aliyun/alink/payload.js';
import type { AlinkTopics } from '../aliyun/alink/topics.js';
import type { DeviceIdentity } from '../aliyun/wire/identity.js';
import type { DevicePublishOptions, EventPostOptions, PostOptions } from './device-options.js';

/**
 * Answers a property set or a service call. It gets the request's `params` and the whole request;
 * what it returns (or resolves with) is the reply's `data` (`{}` for `undefined`). Throwing an
 * {@link AlinkHandlerError} answers with its code; any other throw answers 400.
 */
export type AlinkRequestHandler = (params: Readonly<Record<string, unknown>>, request: AlinkRequest) => unknown;

/**
 * Answers an RRPC request: it gets the request's bytes (a copy it may keep) and the platform's
 * messageId, and returns the response's bytes or text.
 */
export type RrpcHandler = (payload: Uint8Array, messageId: string) => Uint8Array | string | Promise<Uint8Array | string>;

/** The device's events and their listener arguments. */
export interface DeviceEvents {
  /**
   * Something the device handled on its own went wrong: a DeviceError with code
   * `malformed-request`, `malformed-reply`, `no-handler`, `handler-failed` or `reply-failed`.
   * Without a listener these go to the `NODE_DEBUG=aliot` log only. Connection problems are the
   * client's: listen on `device.client` for those. A certificate device also reports
   * `malformed-identity` and `identity-mismatch` for identity messages after the first.
   */
  error: [error: Error];
  /** A certificate device: the platform said who it is, as it does on every connection. */
  identity: [identity: DeviceIdentity];
}

/** A connected device; see {@link connectDevice}. */
export interface Device extends EventEmitter<DeviceEvents> {
  /** The MQTT client underneath, for its events (`connect`, `offline`, `error`, ...), `subscribe` and `messages()`. */
  readonly client: MqttClient;
  /** Who the device is: as given, or as the platform said after connecting (a certificate device). */
  readonly productKey: string;
  readonly deviceName: string;
  /** `productKey` and `deviceName` together: what a certificate device may keep to connect next time. */
  readonly identity: DeviceIdentity;
  /** How it signed in: with its secret, or with the X.509 certificate the platform issued it. */
  readonly authentication: 'secret' | 'certificate';
  /** The device's Alink and user topics. */
  readonly topics: AlinkTopics;
  /** Milliseconds a request waits for its reply unless the call says otherwise (the `replyTimeout` option). */
  readonly replyTimeout: number;

  /**
   * Posts properties (`thing.event.property.post`) and resolves with the platform's `_reply`
   * carrying the same id.
   *
   * @throws ConfigurationError for params that are not a JSON object or a post over the
   *   platform's limits, before anything is sent.
   * @throws AlinkReplyError when the reply's code is not 200.
   * @throws DeviceError `reply-timeout` with no reply in time, `device-ended` when the device
   *   ends first; or the client's error when the post cannot be sent (e.g. `queue-full`).
   */
  postProperties(params: Record<string, unknown>, options?: PostOptions): Promise<AlinkReply>;

  /**
   * Posts event `identifier` (`thing.event.{identifier}.post`) with its output parameters as
   * Alink's `params.value` (and `params.time` when given), and resolves with the `_reply`.
   * Throws as {@link Device.postProperties} does, and ConfigurationError for a bad identifier.
   */
  postEvent(identifier: string, params: Record<string, unknown>, options?: EventPostOptions): Promise<AlinkReply>;

  /**
   * Handles `thing.service.property.set` (and a property set the platform sends over RRPC).
   * Returns a function that removes the handler.
   *
   * @throws ConfigurationError when a property set handler is registered already.
   */
  onPropertySet(handler: AlinkRequestHandler): () => void;

  /**
   * Handles service `identifier`, called asynchronously on `thing/service/{identifier}` (answered
   * on its `_reply` topic) or synchronously over RRPC (answered on `rrpc/response/{messageId}`).
   * Returns a function that removes the handler.
   *
   * @throws ConfigurationError for a bad identifier or one that has a handler already.
   */
  onService(identifier: string, handler: AlinkRequestHandler): () => void;

  /**
   * Handles RRPC requests that are not Alink requests for a registered service or property set
   * handler, answering on `rrpc/response/{messageId}`. Returns a function that removes it.
   *
   * @throws ConfigurationError when an RRPC handler is registered already.
   */
  onRrpc(handler: RrpcHandler): () => void;

  /**
   * Publishes to any topic after checking the platform's limits (QoS 0 or 1, never retained, a
   * topic of at most 128 characters, a payload of at most 256 KB). Resolves as the client's
   * `publish` does.
   *
   * @throws ConfigurationError for a message the platform would refuse, before anything is sent.
   */
  publish(topic: string, payload: Uint8Array | string, options?: DevicePublishOptions): Promise<void>;

  /**
   * Ends the device: posts still waiting for a reply reject with DeviceError `device-ended`, then
   * the client ends (see `MqttClient.end`) and its report is returned.
   */
  end(options?: EndOptions): Promise<EndReport>;
}
