/**
 * The codec's errors as callers use them: fields to branch on and to show (code, detail,
 * statement, packetType, offset), never a message to take apart; and a caller's own mistakes kept
 * apart from a peer's protocol violations.
 */
import { describe, expect, it } from 'vitest';
import { BufferTooSmallError, MqttProtocolError, PacketDecoder, decode, encode, encodeInto } from '../../src/packet/index.js';
import { ConfigurationError } from '../../src/shared/errors.js';
import { hex } from '../support/hex.js';
import { captureError, expectProtocolError } from './helpers.js';

describe('MqttProtocolError fields', () => {
  it('a decode error carries the statement broken apart from its detail [MQTT-3.3.1-4]', () => {
    const error = expectProtocolError(() => decode(hex`36 05 00 01 61 00 01`), 'invalid-qos', 0);
    expect(error.statement).toBe('MQTT-3.3.1-4');
    expect(error.packetType).toBe('publish');
    // The detail is the sentence alone: none of the other fields is repeated inside it.
    expect(error.detail).not.toBe('');
    for (const part of ['MQTT-3.3.1-4', 'invalid-qos', '[', 'at byte']) expect(error.detail).not.toContain(part);
  });

  it('an error with no numbered statement has statement undefined', () => {
    const error = expectProtocolError(() => decode(hex`30 ff ff ff ff 01`), 'remaining-length-overflow', 1);
    expect(error.statement).toBeUndefined();
  });

  it('a stream error keeps code, detail and statement, with the offset moved into the stream', () => {
    const alone = expectProtocolError(() => decode(hex`82 06 00 01 00 01 61 03`), 'invalid-requested-qos', 7);
    const decoder = new PacketDecoder();
    decoder.push(hex`c0 00 c0`);
    const streamed = expectProtocolError(() => decoder.push(hex`00 82 06 00 01 00 01 61 03`), 'invalid-requested-qos', 11);
    expect({ detail: streamed.detail, statement: streamed.statement, packetType: streamed.packetType }).toEqual({
      detail: alone.detail,
      statement: 'MQTT-3-8.3-4',
      packetType: 'subscribe',
    });
  });

  it('an encoder error has a statement and no offset [MQTT-3.1.2-22]', () => {
    const error = captureError(() => encode({ type: 'connect', clientId: 'a', keepalive: 60, clean: true, password: new Uint8Array(1) }));
    expect(error).toBeInstanceOf(MqttProtocolError);
    expect(error).toMatchObject({ code: 'invalid-connect-flags', statement: 'MQTT-3.1.2-22', offset: undefined });
  });

  it('the constructor of earlier releases (code, message, packetType) still works, for the session', () => {
    const error = new MqttProtocolError('unexpected-packet', 'PUBLISH before CONNACK', 'publish');
    expect(error).toMatchObject({ code: 'unexpected-packet', detail: 'PUBLISH before CONNACK', packetType: 'publish', offset: undefined, statement: undefined });
  });
});

describe("a caller's mistakes are not protocol errors", () => {
  it('encodeInto without room throws BufferTooSmallError (code buffer-too-small), not MqttProtocolError', () => {
    const error = captureError(() => encodeInto({ type: 'puback', packetId: 1 }, new Uint8Array(3), 0));
    expect(error).toBeInstanceOf(BufferTooSmallError);
    expect(error).not.toBeInstanceOf(MqttProtocolError);
    expect(error).toMatchObject({ name: 'BufferTooSmallError', code: 'buffer-too-small', packetType: 'puback', needed: 4, offset: 0, available: 3 });
  });

  it('a bad PacketDecoder option is a ConfigurationError naming maxPacketSize, not a RangeError', () => {
    const error = captureError(() => new PacketDecoder({ maxPacketSize: 1 }));
    expect(error).toBeInstanceOf(ConfigurationError);
    expect(error).not.toBeInstanceOf(RangeError);
    expect(error).toMatchObject({ field: 'maxPacketSize' });
  });
});
