/**
 * Coalesces the packets of one tick into one socket write.
 *
 * Packets are encoded straight into a slab; the written region is handed to the socket as a
 * view (no copy) when the current macrotask ends (`setImmediate`), or at once when a batch
 * grows past FLUSH_AT. The socket may keep that view until it is sent, so flushed bytes are
 * never overwritten: the next batch continues after them, and a full slab is replaced, not
 * reused.
 *
 * At the end of each tick the writer lets go of its slab, so an idle connection holds no
 * buffer at all (a gateway keeps thousands of them); the next slab is sized from what the last
 * tick used, between 2 KiB and 64 KiB.
 */
import type { Duplex } from 'node:stream';
import { encodeIntoIfRoom } from '../packet/codec.js';
import type { Clock } from '../shared/clock.js';
import type { Packet } from '../packet/types.js';

/** What the writer tells its connection. */
export interface WriterHooks {
  /** A batch went to the socket at `now` (the keepalive counts from it). */
  flushed(now: number): void;
  /** The socket refused more (its buffer is above the high-water mark) until 'drain'. */
  saturated(): void;
}

const MIN_SLAB = 2 * 1024;
const MAX_SLAB = 64 * 1024;
const NO_SLAB = new Uint8Array(0);
/** A batch this large is written at once rather than at the end of the tick. */
const FLUSH_AT = 32 * 1024;

export class FrameWriter {
  private slab: Uint8Array = NO_SLAB;
  /** Bytes written in the last tick, to size the next slab. */
  private lastTick = 0;
  private thisTick = 0;
  /** Start of the last packet written, for `lastFrame`. */
  private lastStart = 0;
  /** Start of the unflushed batch in `slab`. */
  private start = 0;
  /** End of the unflushed batch in `slab`. */
  private end = 0;
  private flushScheduled = false;
  private closed = false;
  /** The last socket.write returned false and no 'drain' has come yet. */
  saturated = false;

  /**
   * The connection listens for the socket's 'drain' and calls `drained()`. Each flush tells the
   * hooks that bytes went out: one clock reading per batch, not per packet.
   */
  constructor(
    private readonly socket: Duplex,
    private readonly hooks: WriterHooks,
    private readonly clock: Clock,
  ) {}

  /** Encodes `packet` into the current batch. Throws MqttProtocolError (nothing written) if invalid. */
  write(packet: Packet): void {
    let written = encodeIntoIfRoom(packet, this.slab, this.end);
    if (written < 0) {
      this.newSlab(-written);
      written = encodeIntoIfRoom(packet, this.slab, this.end);
    }
    this.lastStart = this.end;
    this.end += written;
    this.scheduleFlush();
  }

  /**
   * The bytes of the packet written last, as a view that stays valid: flushed bytes are never
   * overwritten (see the header). For observers of the wire; call it right after `write`.
   */
  lastFrame(): Uint8Array {
    return this.slab.subarray(this.lastStart, this.end);
  }

  /** Adds prebuilt bytes (PINGREQ, DISCONNECT) to the current batch. */
  writeFrame(frame: Uint8Array): void {
    if (this.end + frame.length > this.slab.length) this.newSlab(frame.length);
    this.slab.set(frame, this.end);
    this.lastStart = this.end;
    this.end += frame.length;
    this.scheduleFlush();
  }

  /** Hands the batch to the socket now. */
  flush(): void {
    if (this.end === this.start || this.closed) return;
    const batch = this.slab.subarray(this.start, this.end);
    this.thisTick += batch.length;
    this.start = this.end;
    const accepted = this.socket.write(batch);
    this.hooks.flushed(this.clock.now());
    if (!accepted && !this.saturated) {
      this.saturated = true;
      this.hooks.saturated();
    }
  }

  /** Stops writing: unflushed bytes are dropped. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.start = this.end;
  }

  private newSlab(size: number): void {
    this.flush();
    // Within a busy tick each slab doubles the last, so a burst costs few writes.
    const wanted = Math.min(MAX_SLAB, Math.max(MIN_SLAB, 2 * this.lastTick, 2 * this.slab.length));
    this.slab = Buffer.allocUnsafe(Math.max(wanted, size));
    this.start = 0;
    this.end = 0;
    this.lastStart = 0;
  }

  private scheduleFlush(): void {
    if (this.end - this.start >= FLUSH_AT) {
      this.flush();
    } else if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(flushAtTickEnd, this);
    }
  }

  /** @internal Called by setImmediate (a shared function, not a closure per writer). */
  tickEnded(): void {
    this.flushScheduled = false;
    this.flush();
    // A socket that hands the bytes on synchronously (an in-memory pipe) can bring the answer back
    // inside that write, and the answer can make more packets: they are in the slab, after the
    // batch, with their own flush scheduled. Letting go of the slab now would lose them.
    if (this.end !== this.start) return;
    this.lastTick = this.thisTick;
    this.thisTick = 0;
    this.slab = NO_SLAB;
    this.start = 0;
    this.end = 0;
    this.lastStart = 0;
  }

  /** The socket drained: writes may go on. */
  drained(): void {
    this.saturated = false;
  }
}

function flushAtTickEnd(writer: FrameWriter): void {
  writer.tickEnded();
}
