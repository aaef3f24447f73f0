/**
 * The exact bytes of each packet a connection sent, for the `packet` trace: the decoder hands
 * back packets, not frames, and a frame may have come in many chunks.
 */
import { decodeFrame } from '../packet/codec.js';
import type { Packet } from '../packet/types.js';

export class FrameTap {
  /** The chunks of the frame the decoder holds incomplete; kept whether tracing or not, since tracing may start in the middle of a frame. */
  #held: Uint8Array[] = [];

  /**
   * Call after each `decoder.push(chunk)` with the packets it returned and the bytes the decoder
   * still holds. Returns the frame of each packet when `tracing`, else `undefined`.
   */
  frames(chunk: Uint8Array, packets: readonly Packet[], stillHeld: number, tracing: boolean): Uint8Array[] | undefined {
    if (packets.length === 0) {
      this.#held.push(chunk);
      return undefined;
    }
    let frames: Uint8Array[] | undefined;
    if (tracing) {
      const stream = this.#held.length === 0 ? chunk : Buffer.concat([...this.#held, chunk]);
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
    this.#held = stillHeld === 0 ? [] : [chunk.subarray(chunk.length - stillHeld)];
    return frames;
  }

  /** Forgets what it holds: the connection is over. */
  clear(): void {
    this.#held = [];
  }
}
