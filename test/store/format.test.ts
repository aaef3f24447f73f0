/**
 * The store file's bytes: the header and the three records, as annotated vectors; CRC-32 against
 * its check value and zlib; and that every single-byte change to a record is caught.
 */
import fc from 'fast-check';
import { crc32 as zlibCrc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { crc32, crc32Table } from '../../src/store/crc32.js';
import { findNextRecord, HEADER_SIZE, readHeader, readRecord, RecordWriter } from '../../src/store/format.js';
import { hex } from '../support/hex.js';

const HEADER = hex`
  61 6c 69 6f 74 6f 62 78   # magic "aliotobx"
  00 01                     # format version 1
  00 18                     # header length 24
  00 00 00 00 00 00 00 05   # next key 5
  52 05 38 40               # CRC-32 of the 20 bytes before`;
const ADD = hex`
  fe a1                     # marker
  77 cf ad 3f               # CRC-32 of type, length and body
  01                        # add
  00 00 00 12               # body length 18
  00 00 00 00 00 00 00 03   # key 3
  03                        # flags: retain, has a packet id
  12 34                     # packet id 0x1234
  00 03 61 2f 62            # topic "a/b"
  68 69                     # payload "hi"`;
const SENT = hex`
  fe a1 68 a9 04 c6
  02                        # sent
  00 00 00 0a               # body length 10
  00 00 00 00 00 00 00 03   # key 3
  01 02                     # packet id 0x0102`;
const ACKNOWLEDGED = hex`
  fe a1 90 6f d9 ee
  03                        # acknowledged
  00 00 00 08               # body length 8
  00 00 00 00 00 00 00 03   # key 3`;

function encoded(write: (w: RecordWriter) => void): Buffer {
  const w = new RecordWriter(16);
  write(w);
  return Buffer.from(w.bytes.subarray(0, w.length));
}

describe('the file format', () => {
  it('writes the header and the records byte for byte as documented', () => {
    expect(encoded((w) => w.header(5))).toEqual(Buffer.from(HEADER));
    expect(encoded((w) => w.add(3, 'a/b', 3, Buffer.from('hi'), true, 0x1234))).toEqual(Buffer.from(ADD));
    expect(encoded((w) => w.sent(3, 0x0102))).toEqual(Buffer.from(SENT));
    expect(encoded((w) => w.acknowledged(3))).toEqual(Buffer.from(ACKNOWLEDGED));
  });

  it('puts the zlib CRC-32 of bytes 6..end in bytes 2..6 of each record, and of bytes 0..20 at 20 in the header', () => {
    for (const record of [ADD, SENT, ACKNOWLEDGED]) {
      expect(Buffer.from(record).readUInt32BE(2)).toBe(zlibCrc32(record.subarray(6)));
    }
    expect(Buffer.from(HEADER).readUInt32BE(20)).toBe(zlibCrc32(HEADER.subarray(0, 20)));
  });

  it('reads the records back', () => {
    const file = Buffer.concat([HEADER, ADD, SENT, ACKNOWLEDGED]);
    expect(readHeader(file, file.length)).toEqual({ version: 1, nextKey: 5 });
    const add = readRecord(file, HEADER_SIZE, file.length);
    expect(add).toMatchObject({ type: 'add', key: 3, topic: 'a/b', retain: true, packetId: 0x1234, size: ADD.length });
    expect(Buffer.from((add as { payload: Uint8Array }).payload).toString()).toBe('hi');
    expect(readRecord(file, HEADER_SIZE + ADD.length, file.length)).toEqual({ type: 'sent', key: 3, packetId: 0x0102, size: SENT.length });
    expect(readRecord(file, HEADER_SIZE + ADD.length + SENT.length, file.length)).toEqual({ type: 'acknowledged', key: 3, size: ACKNOWLEDGED.length });
  });

  it('an add without a packet id has flag bit 1 clear and zeros in its place; keys use all 53 bits', () => {
    const bytes = encoded((w) => w.add(2 ** 53 - 1, '', 0, new Uint8Array(0), false, undefined));
    expect(bytes.subarray(11, 11 + 13)).toEqual(Buffer.from(hex`00 1f ff ff ff ff ff ff  00  00 00  00 00`));
    expect(readRecord(bytes, 0, bytes.length)).toMatchObject({ key: 2 ** 53 - 1, packetId: undefined, retain: false, topic: '' });
  });

  it('catches every single-byte change and every cut of a record', () => {
    for (const record of [ADD, SENT, ACKNOWLEDGED]) {
      const bytes = Buffer.from(record);
      for (let at = 0; at < bytes.length; at++) {
        for (const flip of [0x01, 0x80, 0xff]) {
          const changed = Buffer.from(bytes);
          changed[at]! ^= flip;
          expect(readRecord(changed, 0, changed.length), `byte ${at} ^ ${flip}`).toBeUndefined();
        }
        expect(readRecord(bytes, 0, at), `cut at ${at}`).toBeUndefined();
      }
    }
  });

  it('refuses flags it does not know, a packet id flag that disagrees with the field, keys 0 and beyond 2^53', () => {
    const reseal = (bytes: Buffer): Buffer => {
      bytes.writeUInt32BE(zlibCrc32(bytes.subarray(6)), 2);
      return bytes;
    };
    const unknownFlag = Buffer.from(ADD);
    unknownFlag[19] = 0x07;
    const flagWithoutId = Buffer.from(ADD);
    flagWithoutId[20] = 0;
    flagWithoutId[21] = 0;
    const keyZero = Buffer.from(ACKNOWLEDGED);
    keyZero[18] = 0;
    const keyTooLarge = Buffer.from(ACKNOWLEDGED);
    keyTooLarge[11] = 0x00;
    keyTooLarge[12] = 0x20; // 2^53
    const sentIdZero = Buffer.from(SENT);
    sentIdZero[19] = 0;
    sentIdZero[20] = 0;
    for (const bytes of [unknownFlag, flagWithoutId, keyZero, keyTooLarge, sentIdZero]) {
      expect(readRecord(reseal(bytes), 0, bytes.length)).toBeUndefined();
    }
  });

  it('tells a short header (creation cut short) and a damaged one (records still readable) from a file that is not a store', () => {
    const header = Buffer.from(HEADER);
    expect(readHeader(header, 0)).toBe('short');
    expect(readHeader(header, 23)).toBe('short');
    expect(readHeader(Buffer.from('{"not":"a store"}'), 17)).toBe('not-a-store');
    expect(readHeader(Buffer.from('{"not":"a store", "at all": true}'), 33)).toBe('not-a-store');
    const badCrc = Buffer.from(HEADER);
    badCrc[19]! ^= 1;
    expect(readHeader(badCrc, 24)).toBe('damaged');
    const badMagic = Buffer.concat([HEADER, ADD]);
    badMagic[0]! ^= 1;
    expect(readHeader(badMagic, badMagic.length)).toBe('damaged');
    expect(readHeader(badMagic, 24)).toBe('not-a-store');
    const later = encoded((w) => w.header(1));
    later[9] = 2;
    later.writeUInt32BE(zlibCrc32(later.subarray(0, 20)), 20);
    expect(readHeader(later, 24)).toEqual({ version: 2, nextKey: 0 });
  });

  it('finds the next valid record after damage, passing over false markers', () => {
    const noise = Buffer.from([0xfe, 0xa1, 0x01, 0xfe, 0x00, 0xfe, 0xa1]);
    const bytes = Buffer.concat([noise, SENT, ACKNOWLEDGED]);
    expect(findNextRecord(bytes, 0, bytes.length)).toBe(noise.length);
    expect(findNextRecord(bytes, noise.length + 1, bytes.length)).toBe(noise.length + SENT.length);
    expect(findNextRecord(bytes, noise.length + SENT.length + 1, bytes.length)).toBe(-1);
  });
});

describe('CRC-32', () => {
  it('has the check value of CRC-32/ISO-HDLC: "123456789" gives cbf43926', () => {
    const check = Buffer.from('123456789');
    expect(crc32Table(check, 0, 9)).toBe(0xcbf43926);
    expect(crc32(check, 0, 9)).toBe(0xcbf43926);
    expect(crc32Table(check, 0, 0)).toBe(0);
  });

  it('the table and zlib agree on any bytes, any range, either side of the size where zlib takes over', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 3000 }), fc.nat(), fc.nat(), (bytes, a, b) => {
        const start = bytes.length === 0 ? 0 : a % bytes.length;
        const end = start + (bytes.length === start ? 0 : b % (bytes.length - start + 1));
        const expected = zlibCrc32(bytes.subarray(start, end));
        expect(crc32Table(bytes, start, end)).toBe(expected);
        expect(crc32(bytes, start, end)).toBe(expected);
      }),
      { numRuns: 300 },
    );
  });
});
