/**
 * The exact bytes of each packet a connection sent, for the `packet` trace: the decoder hands
 * back packets, not frames, and a frame may have come in many chunks.
 */
import { decodeFrame } from '../packet/codec.js';
import type { Packet } from '../packet/types.js';

const EMPTY = new Uint8Array(0);

/** A buffer this small is kept for the next partial frame; a larger one goes once its frame is complete. */
const KEEP_BYTES = 4096;

export class FrameTap {
  /**
   * A copy of the incomplete frame the decoder holds, kept whether tracing or not (tracing may
   * start in the middle of a frame). One buffer, grown by doubling, rather than a list of the
   * chunks: a frame trickled a byte at a time would otherwise cost an object, and a pinned
   * socket buffer, per byte.
   */
  #held: Uint8Array = EMPTY;
  #heldLength = 0;

  /**
   * Call after each `decoder.push(chunk)` with the packets it returned and the bytes the decoder
   * still holds. Returns the frame of each packet when `tracing`, else `undefined`.
   */
  frames(chunk: Uint8Array, packets: readonly Packet[], stillHeld: number, tracing: boolean): Uint8Array[] | undefined {
    if (packets.length === 0) {
      this.#hold(chunk);
      return undefined;
    }
    let frames: Uint8Array[] | undefined;
    if (tracing) {
      const stream = this.#heldLength === 0 ? chunk : Buffer.concat([this.#held.subarray(0, this.#heldLength), chunk]);
      frames = [];
      let pos = 0;
      for (let i = 0; i < packets.length; i++) {
        // The decoder accepted these bytes already, so each frame decodes again.
        const length = decodeFrame(stream, pos)?.length ?? stream.length - pos;
        frames.push(stream.subarray(pos, pos + length));
        pos += length;
      }
    }
    // Frames were completed in this chunk, so what the decoder still holds is this chunk's tail.
    this.#heldLength = 0;
    if (stillHeld > 0) this.#hold(chunk.subarray(chunk.length - stillHeld));
    else if (this.#held.length > KEEP_BYTES) this.#held = EMPTY;
    return frames;
  }

  /** Forgets what it holds: the connection is over. */
  clear(): void {
    this.#held = EMPTY;
    this.#heldLength = 0;
  }

  #hold(bytes: Uint8Array): void {
    const needed = this.#heldLength + bytes.length;
    if (needed > this.#held.length) {
      const grown = new Uint8Array(Math.max(needed, this.#held.length * 2, 256));
      grown.set(this.#held.subarray(0, this.#heldLength));
      this.#held = grown;
    }
    this.#held.set(bytes, this.#heldLength);
    this.#heldLength = needed;
  }
}
