/**
 * Topic name caches for the PUBLISH hot path.
 *
 * A device or gateway publishes to, and receives on, a small set of topics over and over. Checking
 * a topic (UTF-8, no U+0000, no wildcard) and converting it between string and bytes is most of
 * the cost of a small PUBLISH, so both directions remember recent topics:
 *
 * - encoding: a Map from topic string to its validated wire form (two-byte length + UTF-8);
 * - decoding: a direct-mapped table from wire bytes to the string, confirmed byte by byte.
 *
 * Both are bounded (entries and entry size) and shared process-wide; a miss costs one full check,
 * exactly as without the cache. Nothing unvalidated is ever stored.
 */
import { TOPIC_NAME, checkTopicShape, readUtf8, utf8Length, writeUtf8 } from './primitives.js';

/** Topics longer than this (in bytes) are not cached; they are rare and would bloat the cache. */
const MAX_CACHED_TOPIC = 256;
/** Entries the encode cache holds before it starts over. */
const ENCODE_CACHE_ENTRIES = 1024;
/** Slots in the decode table (a power of two). */
const DECODE_SLOTS = 512;

const encodeCache = new Map<string, Uint8Array>();

/**
 * The topic's wire form (two-byte length, then UTF-8), after checking it is a valid PUBLISH topic
 * name [MQTT-3.3.2-1, MQTT-3.3.2-2, MQTT-4.7.1-1, MQTT-4.7.3-1..3]. Throws `MqttProtocolError`.
 */
export function topicWireForm(topic: string): Uint8Array {
  const hit = encodeCache.get(topic);
  if (hit !== undefined) return hit;
  const length = utf8Length(topic, 'publish', 'topic', TOPIC_NAME);
  const wire = new Uint8Array(2 + length);
  writeUtf8(wire, 0, topic);
  if (length <= MAX_CACHED_TOPIC) {
    if (encodeCache.size >= ENCODE_CACHE_ENTRIES) encodeCache.clear();
    encodeCache.set(topic, wire);
  }
  return wire;
}

interface DecodedTopic {
  /** The topic bytes as little-endian 32-bit words (the last 0..3 bytes are in `bytes`). */
  readonly words: Uint32Array;
  readonly bytes: Uint8Array;
  readonly topic: string;
}
const decodeTable: (DecodedTopic | undefined)[] = new Array<DecodedTopic | undefined>(DECODE_SLOTS).fill(undefined);

// Comparing four bytes at a time through a DataView is over twice as fast as byte by byte, but a
// DataView costs more to create than the comparison saves, so the last one is kept: frames that
// arrive in one chunk (or one slab) share it.
let viewedBuffer: ArrayBufferLike | undefined;
let dataView: DataView | undefined;
function dataViewOf(buffer: ArrayBufferLike): DataView {
  if (buffer !== viewedBuffer || dataView === undefined) {
    dataView = new DataView(buffer);
    viewedBuffer = buffer;
  }
  return dataView;
}

/**
 * Decodes the PUBLISH topic name whose length prefix is at `at` (read already as `length`),
 * checked as `topicWireForm` checks one. The bytes lie inside the frame (the caller checked);
 * `memory` and `base` are `buf.buffer` and `buf.byteOffset`.
 */
export function readTopic(
  buf: Uint8Array,
  at: number,
  length: number,
  memory: ArrayBufferLike,
  base: number,
): string {
  if (length === 0 || length > MAX_CACHED_TOPIC) return decodeTopic(buf, at, length);
  const pos = at + 2;
  const end = pos + length;
  // The slot is picked by the length and two sampled bytes: cheap, and spreads typical topics
  // (same prefix, different device names or suffixes) well enough.
  const slot = (length * 31 + buf[pos + (length >> 1)]! * 7 + buf[end - 1]!) & (DECODE_SLOTS - 1);
  const entry = decodeTable[slot];
  if (entry !== undefined && entry.bytes.length === length) {
    const words = entry.words;
    const view = dataViewOf(memory);
    const byteAt = base + pos;
    const wordCount = words.length;
    let w = 0;
    while (w < wordCount && view.getUint32(byteAt + w * 4, true) === words[w]) w++;
    if (w === wordCount) {
      const bytes = entry.bytes;
      let i = wordCount * 4;
      while (i < length && bytes[i] === buf[pos + i]) i++;
      if (i === length) return entry.topic;
    }
  }
  const topic = decodeTopic(buf, at, length);
  // Copies: a view would pin the caller's chunk and change if the caller reused its memory. Not
  // `buf.slice`: on a Node Buffer (a socket's chunk) that is a view too.
  const bytes = new Uint8Array(length);
  bytes.set(buf.subarray(pos, end));
  const words = new Uint32Array(length >> 2);
  const copyView = new DataView(bytes.buffer, bytes.byteOffset, length);
  for (let w = 0; w < words.length; w++) words[w] = copyView.getUint32(w * 4, true);
  decodeTable[slot] = { words, bytes, topic };
  return topic;
}

function decodeTopic(buf: Uint8Array, at: number, length: number): string {
  const topic = readUtf8(buf, at, length, 'publish', 'topic');
  if (length === 0 || topic.includes('+') || topic.includes('#')) {
    checkTopicShape(topic, 'publish', 'topic', TOPIC_NAME, at);
  }
  return topic;
}

/** Empties both caches (for tests that count misses, and for memory-conscious callers). */
export function clearTopicCaches(): void {
  encodeCache.clear();
  decodeTable.fill(undefined);
  viewedBuffer = undefined;
  dataView = undefined;
}

