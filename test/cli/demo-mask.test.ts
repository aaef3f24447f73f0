/** The demos' masking of credentials inside payloads: what is masked, what is kept, and that the frame stays a frame. */
import { describe, expect, it } from 'vitest';
import { maskPayloadSecrets } from '../../src/cli/demo-mask.js';
import { decodeFrame, encode } from '../../src/packet/codec.js';
import type { Packet, PublishPacket } from '../../src/packet/types.js';

function publish(payload: string): { packet: PublishPacket; bytes: Uint8Array } {
  const packet: PublishPacket = { type: 'publish', topic: '/ext/register', qos: 0, dup: false, retain: false, payload: Buffer.from(payload, 'utf8') };
  return { packet, bytes: encode(packet) };
}

function shown(payload: string): { text: string; bytes: Uint8Array; original: Uint8Array } {
  const { packet, bytes } = publish(payload);
  const masked = maskPayloadSecrets(packet, bytes);
  const decoded = decodeFrame(masked.bytes, 0);
  // The masked frame is still a frame of the same length, and its packet's payload is the masked one.
  expect(decoded?.length).toBe(bytes.length);
  const again = decoded?.packet as PublishPacket;
  expect(again.topic).toBe('/ext/register');
  expect(Buffer.from(again.payload)).toEqual(Buffer.from((masked.packet as PublishPacket).payload));
  return { text: Buffer.from((masked.packet as PublishPacket).payload).toString('utf8'), bytes: masked.bytes, original: bytes };
}

describe('maskPayloadSecrets', () => {
  it('masks a DeviceSecret byte for byte, wherever it is in the JSON', () => {
    const { text } = shown('{"productKey":"a1","deviceName":"d","deviceSecret":"0123456789abcdef"}');
    expect(text).toBe('{"productKey":"a1","deviceName":"d","deviceSecret":"****************"}');
    expect(shown('{"id":"1","code":200,"data":[{"deviceSecret":"aaaa1111"},{"deviceSecret":"bbbb2222"}]}').text).toBe(
      '{"id":"1","code":200,"data":[{"deviceSecret":"********"},{"deviceSecret":"********"}]}',
    );
    expect(shown('{"productSecret":"ps-1","deviceToken":"tok","password":"pw"}').text).toBe('{"productSecret":"****","deviceToken":"***","password":"**"}');
  });

  it("masks a sub-device's sign (an object with a clientId) and keeps a file's digest", () => {
    const entry = '{"productKey":"a1","deviceName":"m1","clientId":"a1&m1","timestamp":"1","signmethod":"hmacSha256","sign":"ABCDEF0123"}';
    expect(shown(`{"id":"2","params":[${entry}]}`).text).toContain('"sign":"**********"');
    const job = '{"code":"1000","data":{"size":3,"sign":"0123456789abcdef0123456789abcdef","signMethod":"MD5","url":"https://x/f"}}';
    expect(shown(job).text).toBe(job);
  });

  it('masks every occurrence of a secret, also outside its field', () => {
    expect(shown('{"deviceSecret":"s3cr3t-value","note":"s3cr3t-value"}').text).toBe('{"deviceSecret":"************","note":"************"}');
  });

  it('masks the whole payload when a secret is written with escapes and cannot be found as it is', () => {
    const { text } = shown('{"deviceSecret":"a\\"b","x":1}');
    expect(text).toMatch(/^\*+$/);
  });

  it('leaves other packets, payloads that are not JSON, and JSON without secrets as they are', () => {
    const connect: Packet = { type: 'connect', clientId: 'c', clean: true, keepalive: 60, username: 'u', password: Buffer.from('pw') };
    const connectBytes = encode(connect);
    expect(maskPayloadSecrets(connect, connectBytes).bytes).toBe(connectBytes);
    for (const payload of ['not json {"deviceSecret":"x"}', '{"deviceName":"d","sign":"abc"}', '']) {
      const { packet, bytes } = publish(payload);
      expect(maskPayloadSecrets(packet, bytes)).toEqual({ packet, bytes });
    }
  });
});
