/**
 * The MQTT 3.1.1 packet codec: pure functions from packet values to bytes and back, and a
 * streaming decoder. No I/O, no timers.
 */
export type * from './types.js';
export { MqttProtocolError, BufferTooSmallError, type MqttProtocolErrorCode } from './errors.js';
export {
  encode,
  encodeInto,
  encodedLength,
  decode,
  decodeFrame,
  type DecodedFrame,
  PINGREQ_FRAME,
  PINGRESP_FRAME,
  DISCONNECT_FRAME,
} from './codec.js';
export { PacketDecoder, MAX_PACKET_SIZE, type PacketDecoderOptions } from './decoder.js';
export { describePacket } from './describe.js';
