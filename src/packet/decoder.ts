/**
 * A streaming decoder: feed it the chunks a socket delivers, get back whole packets.
 *
 * Frames that lie wholly inside one chunk are decoded in place (their payloads are views into
 * that chunk). A frame split across chunks is gathered until complete and then decoded from one
 * buffer; its size is checked against `maxPacketSize` as soon as its fixed header is known, so an
 * oversize frame is refused before any of its body is kept.
 */
import { ConfigurationError } from '../shared/errors.js';
import { MqttProtocolError } from './errors.js';
import { decodeBody } from './codec.js';
import { FixedHeader, MAX_HEADER_LENGTH, MAX_REMAINING_LENGTH, readFixedHeader } from './fixed-header.js';
import type { Packet } from './types.js';

/** The largest frame MQTT 3.1.1 allows: 1 type byte, 4 length bytes, 268,435,455 body bytes. */
export const MAX_PACKET_SIZE = 1 + 4 + MAX_REMAINING_LENGTH;

export interface PacketDecoderOptions {
  /**
   * Largest whole frame (fixed header included) accepted, in bytes. Default: the protocol's
   * maximum, 268,435,460. A larger frame throws `packet-too-large` from its header. Anything but
   * a whole number from 2 to 268,435,460 throws `ConfigurationError` from the constructor.
   */
  readonly maxPacketSize?: number | undefined;
}

/** Shared empty list: a decoder holds no array until a frame is split across chunks. */
const NO_PARTS: Uint8Array[] = [];

export class PacketDecoder {
  readonly maxPacketSize: number;

  /** Pieces of the incomplete frame, in order; `partBytes` counts their bytes. */
  private parts: Uint8Array[] = NO_PARTS;
  private partBytes = 0;
  /** Size of the incomplete frame, or -1 while its fixed header is incomplete. */
  private frameSize = -1;
  /** Stream offset of the next chunk's first byte. */
  private streamOffset = 0;
  /** The fixed header being read: one per decoder, filled afresh for every frame. */
  private readonly header = new FixedHeader();

  constructor(options: PacketDecoderOptions = {}) {
    const max = options.maxPacketSize ?? MAX_PACKET_SIZE;
    if (!Number.isInteger(max) || max < 2 || max > MAX_PACKET_SIZE) {
      throw new ConfigurationError('maxPacketSize', `must be a whole number of bytes from 2 to ${MAX_PACKET_SIZE}, got ${String(max)}`);
    }
    this.maxPacketSize = max;
  }

  /** Bytes held from an incomplete frame. */
  get bufferedBytes(): number {
    return this.partBytes;
  }

  /**
   * Feeds the next chunk of the stream and returns the packets it completed (possibly none).
   *
   * Throws `MqttProtocolError` at the first violation, with `offset` counted from the start of
   * the stream. The decoder then drops what it held and starts over, so the same instance can
   * read a new stream; the connection the bytes came from must be closed [MQTT-4.8.0-1]. Packets
   * completed earlier in the failing chunk are not returned.
   *
   * Payloads are views into `chunk` (or into a gathered frame): do not reuse `chunk`'s memory.
   */
  push(buf: Uint8Array): Packet[] {
    const end = buf.length;
    const out: Packet[] = [];
    let pos = 0;
    // Where offset 0 of the buffer being decoded lies in the stream, for error offsets.
    let base = this.streamOffset - this.partBytes;
    try {
      if (this.partBytes > 0) {
        pos = this.completeFrame(buf, out);
        if (pos < 0) {
          this.streamOffset += end;
          return out;
        }
      }
      base = this.streamOffset;
      const memory = buf.buffer;
      const memoryBase = buf.byteOffset;
      const header = this.header;
      while (pos < end) {
        if (!readFixedHeader(buf, pos, end, header)) {
          this.keep(buf.subarray(pos), -1);
          break;
        }
        const size = header.frameLength;
        this.checkSize(size, pos);
        if (pos + size > end) {
          this.keep(buf.subarray(pos), size);
          break;
        }
        out.push(decodeBody(buf, pos, header, memory, memoryBase));
        pos += size;
      }
      this.streamOffset += end;
      return out;
    } catch (error) {
      this.reset();
      throw error instanceof MqttProtocolError ? error.shifted(base) : error;
    }
  }

  /** Drops any partial frame and counts stream offsets from 0 again. */
  reset(): void {
    this.parts = NO_PARTS;
    this.partBytes = 0;
    this.frameSize = -1;
    this.streamOffset = 0;
  }

  private keep(bytes: Uint8Array, frameSize: number): void {
    if (this.parts === NO_PARTS) this.parts = [];
    this.parts.push(bytes);
    this.partBytes += bytes.length;
    this.frameSize = frameSize;
  }

  private checkSize(size: number, at: number): void {
    if (size > this.maxPacketSize) {
      throw new MqttProtocolError(
        'packet-too-large',
        `a ${size}-byte frame exceeds maxPacketSize ${this.maxPacketSize}`,
        undefined,
        at,
      );
    }
  }

  /**
   * Continues the incomplete frame with the start of `buf`. Returns the position in `buf` just
   * after the frame once it is complete (and decoded into `out`), or -1 when all of `buf` was
   * kept. Error offsets are relative to the frame's first byte.
   */
  private completeFrame(buf: Uint8Array, out: Packet[]): number {
    if (this.frameSize < 0) {
      // At most 4 header bytes are held; 5 more settle the Remaining Length one way or the other.
      const head = Buffer.concat([...this.parts, buf.subarray(0, MAX_HEADER_LENGTH)]);
      if (!readFixedHeader(head, 0, head.length, this.header)) {
        this.keep(buf, -1);
        return -1;
      }
      this.frameSize = this.header.frameLength;
      this.checkSize(this.frameSize, 0);
    }
    const need = this.frameSize - this.partBytes;
    if (buf.length < need) {
      this.keep(buf, this.frameSize);
      return -1;
    }
    const frame = Buffer.concat([...this.parts, buf.subarray(0, need)], this.frameSize);
    this.parts = NO_PARTS;
    this.partBytes = 0;
    this.frameSize = -1;
    readFixedHeader(frame, 0, frame.length, this.header);
    out.push(decodeBody(frame, 0, this.header, frame.buffer, frame.byteOffset));
    return need;
  }
}
