/**
 * A streaming decoder: feed it the chunks a socket delivers, get back whole packets.
 *
 * Frames that lie wholly inside one chunk are decoded in place (their payloads are views into
 * that chunk). A frame split across chunks is copied, as it arrives, into one buffer of its own
 * and decoded from there once complete, so what the decoder holds is about the size of the bytes
 * received, however small the chunks, and the caller's chunks are never kept. Its size is checked
 * against `maxPacketSize` as soon as its fixed header is known, so an oversize frame is refused
 * before any of its body is kept.
 */
import { ConfigurationError } from '../shared/errors.js';
import { MqttProtocolError } from './errors.js';
import { POOLED_MAX, allocate, decodeBody } from './codec.js';
import { FixedHeader, MAX_HEADER_LENGTH, MAX_REMAINING_LENGTH, readFixedHeader } from './fixed-header.js';
import type { Packet, PayloadView } from './types.js';

/** The largest frame MQTT 3.1.1 allows: 1 type byte, 4 length bytes, 268,435,455 body bytes. */
export const MAX_PACKET_SIZE = 1 + 4 + MAX_REMAINING_LENGTH;

export interface PacketDecoderOptions {
  /**
   * Largest whole frame (fixed header included) accepted, in bytes. Default: the protocol's
   * maximum, 268,435,460. A larger frame throws `packet-too-large` from its header. Anything but
   * a whole number from 2 to 268,435,460 throws `ConfigurationError` from the constructor.
   */
  readonly maxPacketSize?: number | undefined;
  /**
   * Makes each PUBLISH payload's view of the bytes it arrived in (no copy), instead of a
   * `Uint8Array`: `Buffer.from` gives Node `Buffer`s, whose `toString()` is the text. It must
   * return a view of exactly `length` bytes at `byteOffset` of `buffer`. Default: `Uint8Array`.
   */
  readonly payloadView?: PayloadView | undefined;
}

/**
 * The smallest buffer a partial frame starts in. A frame's header announces its size, but the
 * sender has not yet shown it will send that much: the buffer starts at twice what has arrived
 * (at least this), and doubles as more arrives, up to the announced size. Memory then follows the
 * bytes received (a 5-byte header announcing 256 MiB costs 4 KiB, not 256 MiB), and the copies
 * the growth costs add up to less than the frame's size, so time stays linear.
 */
const MIN_CAPACITY = 4096;

/**
 * The fixed header being read, shared by every decoder: it is filled and used within one call of
 * `push` (which calls nothing outside the codec), and a frame completed by a later chunk has its
 * header read again from the frame's own first bytes.
 */
const header = new FixedHeader();

export class PacketDecoder {
  readonly maxPacketSize: number;
  private readonly payloadView: PayloadView | undefined;

  /**
   * The first bytes of a frame whose fixed header is incomplete: `head[0..headBytes)`. Made the
   * first time a chunk ends inside a fixed header: an idle connection's decoder holds no memory.
   */
  private head: Uint8Array | undefined;
  private headBytes = 0;
  /**
   * The frame being gathered once its fixed header is known: `frame[0..filled)` has arrived of
   * its `frameSize` bytes, and `header` is its fixed header. Undefined otherwise.
   */
  private frame: Uint8Array | undefined;
  private filled = 0;
  private frameSize = 0;
  /** Stream offset of the next chunk's first byte. */
  private streamOffset = 0;

  constructor(options: PacketDecoderOptions = {}) {
    const max = options.maxPacketSize ?? MAX_PACKET_SIZE;
    if (!Number.isInteger(max) || max < 2 || max > MAX_PACKET_SIZE) {
      throw new ConfigurationError('maxPacketSize', `must be a whole number of bytes from 2 to ${MAX_PACKET_SIZE}, got ${String(max)}`);
    }
    this.maxPacketSize = max;
    const view = options.payloadView;
    if (view !== undefined && typeof view !== 'function') {
      throw new ConfigurationError('payloadView', `must be a function (buffer, byteOffset, length) returning a view, got ${typeof view}`);
    }
    this.payloadView = view;
  }

  /** Bytes held from an incomplete frame (what has arrived of it). */
  get bufferedBytes(): number {
    return this.frame === undefined ? this.headBytes : this.filled;
  }

  /**
   * Feeds the next chunk of the stream and returns the packets it completed (possibly none).
   *
   * Throws `MqttProtocolError` at the first violation, with `offset` counted from the start of
   * the stream. The decoder then drops what it held and starts over, so the same instance can
   * read a new stream; the connection the bytes came from must be closed [MQTT-4.8.0-1]. Packets
   * completed earlier in the failing chunk are not returned.
   *
   * Payloads of frames wholly inside `chunk` are views into it: do not reuse its memory while you
   * hold them. The bytes of a frame that `chunk` leaves incomplete are copied before `push`
   * returns.
   *
   * `frames`, when given, receives each returned packet's whole frame (fixed header included), in
   * the same order: the bytes as they crossed the wire, for whoever shows them.
   */
  push(buf: Uint8Array, frames?: Uint8Array[]): Packet[] {
    const end = buf.length;
    const out: Packet[] = [];
    let pos = 0;
    // Where offset 0 of the buffer being decoded lies in the stream, for error offsets.
    let base = this.streamOffset - this.bufferedBytes;
    try {
      if (this.frame !== undefined || this.headBytes > 0) {
        pos = this.continueFrame(buf, out, frames);
        if (pos < 0) {
          this.streamOffset += end;
          return out;
        }
      }
      base = this.streamOffset;
      const memory = buf.buffer;
      const memoryBase = buf.byteOffset;
      while (pos < end) {
        if (!readFixedHeader(buf, pos, end, header)) {
          this.keepHead(buf, pos, end);
          break;
        }
        const size = header.frameLength;
        this.checkSize(size, pos);
        if (pos + size > end) {
          this.startFrame(size, end - pos);
          this.append(buf, pos, end);
          break;
        }
        out.push(decodeBody(buf, pos, header, memory, memoryBase, this.payloadView));
        if (frames !== undefined) frames.push(buf.subarray(pos, pos + size));
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
    this.headBytes = 0;
    this.frame = undefined;
    this.filled = 0;
    this.frameSize = 0;
    this.streamOffset = 0;
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

  /** Holds the start of a frame whose fixed header `buf[pos..end)` does not complete (4 bytes at most). */
  private keepHead(buf: Uint8Array, pos: number, end: number): void {
    const head = (this.head ??= new Uint8Array(MAX_HEADER_LENGTH));
    for (let i = pos; i < end; i++) head[this.headBytes++] = buf[i]!;
  }

  /** Starts gathering a frame of `size` bytes, `inHand` of which are about to be appended. */
  private startFrame(size: number, inHand: number): void {
    this.frameSize = size;
    // A small frame (one is split at nearly every chunk boundary) is carved from the encoder's
    // slab, as Node carves small Buffers from a pool: a memory of its own costs more than the copy.
    this.frame = size <= POOLED_MAX ? allocate(size) : new Uint8Array(Math.min(size, Math.max(MIN_CAPACITY, 2 * inHand)));
    this.filled = 0;
  }

  /** Copies `src[from..to)` to the end of the frame being gathered, growing its buffer if need be. */
  private append(src: Uint8Array, from: number, to: number): void {
    const n = to - from;
    let frame = this.frame!;
    if (this.filled + n > frame.length) {
      const grown = new Uint8Array(Math.min(this.frameSize, Math.max(2 * frame.length, this.filled + n)));
      grown.set(frame.subarray(0, this.filled));
      this.frame = frame = grown;
    }
    // A trickle of a few bytes at a time is common; a loop beats creating a view for those.
    if (n <= 16) {
      for (let i = 0; i < n; i++) frame[this.filled + i] = src[from + i]!;
    } else {
      frame.set(src.subarray(from, to), this.filled);
    }
    this.filled += n;
  }

  /**
   * Continues the incomplete frame with the start of `buf`. Returns the position in `buf` just
   * after the frame once it is complete (and decoded into `out`), or -1 when all of `buf` was
   * taken. Error offsets are relative to the frame's first byte.
   */
  private continueFrame(buf: Uint8Array, out: Packet[], frames: Uint8Array[] | undefined): number {
    let pos = 0;
    if (this.frame === undefined) {
      // Five bytes settle a fixed header one way or the other.
      const take = Math.min(MAX_HEADER_LENGTH - this.headBytes, buf.length);
      this.keepHead(buf, 0, take);
      const head = this.head!;
      if (!readFixedHeader(head, 0, this.headBytes, header)) return -1; // took all of buf
      const size = header.frameLength;
      this.checkSize(size, 0);
      const headerLength = header.headerLength;
      pos = take - (this.headBytes - headerLength); // bytes taken past the header go back to buf
      this.headBytes = 0;
      this.startFrame(size, headerLength + buf.length - pos);
      this.append(head, 0, headerLength);
    }
    const need = this.frameSize - this.filled;
    if (buf.length - pos < need) {
      this.append(buf, pos, buf.length);
      return -1;
    }
    this.append(buf, pos, pos + need);
    const frame = this.frame!;
    this.frame = undefined;
    this.filled = 0;
    readFixedHeader(frame, 0, this.frameSize, header); // read and checked when the frame began
    out.push(decodeBody(frame, 0, header, frame.buffer, frame.byteOffset, this.payloadView));
    if (frames !== undefined) frames.push(frame.subarray(0, this.frameSize));
    return pos + need;
  }
}
