/** The MQTT session: connection, keepalive, QoS 0/1 publish, subscribe, reconnect. */
export {
  MqttClient,
  type ClientState,
  type ConnectionInfo,
  type PublishOptions,
  type SubscribeOptions,
  type EndOptions,
  type EndReport,
  type UnacknowledgedMessage,
  type MqttClientEvents,
  type MqttMessage,
  type CloseDetails,
} from './client.js';
export type { MqttClientOptions, ReconnectOptions, WillOptions, OpenSocket } from './options.js';
export {
  MqttClientError,
  ConnectionRefusedError,
  SubscribeError,
  UnexpectedPacketError,
  type MqttClientErrorCode,
  type ConnackHint,
  type SubscriptionGrant,
} from './errors.js';
export { MessageStream } from './messages.js';
export { describePacket } from '../packet/describe.js';
