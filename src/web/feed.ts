/**
 * The session feed: what the page draws, as a numbered list of events. Every packet the stand-in
 * receives or sends, every connection that opens, is refused or ends, and the demo's steps and
 * their results become one small JSON event each, serialized once and handed to every viewer.
 *
 * History is bounded by count and by size, oldest first out, so that a viewer who opens the page
 * late sees the recent session and a long-running `aliot web` keeps a fixed amount of memory.
 * A frame is kept whole up to {@link MAX_FRAME_KEPT} bytes and cut there.
 */
import type { Emulator, PacketEvent, TracedConnection } from '../emulator/types.js';
import type { Packet } from '../packet/types.js';

/** Bytes of a frame kept for the page; a larger PUBLISH is cut here and marked `truncated`. */
export const MAX_FRAME_KEPT = 16 * 1024;

/** Default history bounds. */
export const DEFAULT_HISTORY = Object.freeze({ events: 1000, bytes: 4 * 1024 * 1024 });

export interface HistoryLimits {
  /** The most events kept. */
  readonly events: number;
  /** The most bytes of serialized events kept (one large frame may push out many small ones). */
  readonly bytes: number;
}

/** The fields of a packet the arrow shows; absent when the packet has no such field. */
export interface KeyFields {
  readonly topic?: string;
  readonly qos?: number;
  readonly packetId?: number;
  readonly dup?: boolean;
  readonly retain?: boolean;
  readonly payloadBytes?: number;
  readonly returnCode?: number;
  readonly sessionPresent?: boolean;
  readonly returnCodes?: readonly number[];
  readonly clientId?: string;
  readonly username?: string;
  readonly keepalive?: number;
  readonly clean?: boolean;
  /** SUBSCRIBE's filters with their requested QoS; UNSUBSCRIBE's without. */
  readonly filters?: readonly { readonly filter: string; readonly qos?: number }[];
}

/** Who a connection is, as far as the stand-in knows. */
export interface FeedConnection {
  readonly id: number;
  /** `deviceName` of `productKey`, once its CONNECT is accepted. */
  readonly device: string | undefined;
}

export type FeedEventBody =
  | {
      readonly kind: 'packet';
      readonly connection: FeedConnection;
      /** `up`: device to platform; `down`: platform to device. */
      readonly direction: 'up' | 'down';
      /** `PUBLISH`, `CONNACK`, ... */
      readonly type: string;
      readonly fields: KeyFields;
      /** Bytes of the whole frame on the wire. */
      readonly size: number;
      /** The frame as hex pairs without spaces; a CONNECT's password bytes as `**` each. */
      readonly hex: string;
      /** The frame was longer than {@link MAX_FRAME_KEPT}; `hex` holds its start only. */
      readonly truncated: boolean;
      /** Sent on a connection the network had already cut: it never arrived. */
      readonly lost: boolean;
    }
  | {
      readonly kind: 'connection';
      readonly connection: FeedConnection;
      readonly event: 'open' | 'refused' | 'closed';
      /** The stand-in's reason, e.g. `client-disconnect`, `connection-lost`, `not-authorized`. */
      readonly reason: string | undefined;
      readonly message: string | undefined;
    }
  /** A demo step begins: its title and what it shows. */
  | { readonly kind: 'step'; readonly step: string; readonly title: string; readonly text: string }
  /** What a step or the device reports: a reply's code, an error, the client's reconnect wait. */
  | { readonly kind: 'note'; readonly level: 'info' | 'error'; readonly text: string };

/** An event as viewers get it: its number and its time in milliseconds since the feed began. */
export type FeedEvent = FeedEventBody & { readonly seq: number; readonly t: number };

/** An event and its serialized form, shared by every viewer. */
export interface StoredEvent {
  readonly seq: number;
  readonly json: string;
}

export type FeedListener = (event: StoredEvent) => void;

export class SessionFeed {
  readonly #limits: HistoryLimits;
  readonly #history: StoredEvent[] = [];
  /** Index of the oldest kept event in #history (kept events are #history.slice(#head)). */
  #head = 0;
  #bytes = 0;
  #seq = 0;
  readonly #start: number;
  readonly #listeners = new Set<FeedListener>();
  /** Connections the network cut: what the stand-in sends on them afterwards is lost. */
  readonly #cut = new Set<number>();
  readonly #now: () => number;

  constructor(limits: HistoryLimits = DEFAULT_HISTORY, now: () => number = () => performance.now()) {
    this.#limits = limits;
    this.#now = now;
    this.#start = now();
  }

  /** Feeds every packet and connection event of `emulator` into this feed until it closes. */
  watch(emulator: Emulator): void {
    emulator.on('packet', (event) => this.#packet(event));
    emulator.on('connect', (c) => {
      const connection = { id: c.id, device: deviceLabel(c) };
      this.record({ kind: 'connection', connection, event: 'open', reason: undefined, message: `keepalive ${c.keepalive} s, clientId ${c.clientId}` });
    });
    emulator.on('refuse', ({ connection, reason, message }) => {
      this.#cut.delete(connection.id);
      this.record({ kind: 'connection', connection: feedConnection(connection), event: 'refused', reason, message });
    });
    emulator.on('disconnect', ({ connection, reason, message }) => {
      this.#cut.delete(connection.id);
      this.record({ kind: 'connection', connection: feedConnection(connection), event: 'closed', reason, message });
    });
    // What the stand-in keeps for Clean Session 0 is what makes a reconnect's Session Present 1 and DUP 1.
    emulator.on('session', ({ action, deviceName, productKey, message }) => {
      this.record({ kind: 'note', level: 'info', text: `The stand-in's session of ${deviceName} of ${productKey}: ${action}, ${message}.` });
    });
  }

  /** The network between device and stand-in was cut on connection `id`. */
  cut(id: number): void {
    this.#cut.add(id);
  }

  /** Numbers, stamps, stores and hands out one event. */
  record(body: FeedEventBody): StoredEvent {
    const seq = ++this.#seq;
    const t = Math.round((this.#now() - this.#start) * 10) / 10;
    const stored: StoredEvent = { seq, json: JSON.stringify({ seq, t, ...body }) };
    this.#history.push(stored);
    this.#bytes += stored.json.length;
    this.#trim();
    for (const listener of this.#listeners) listener(stored);
    return stored;
  }

  /** Kept events with a number above `after` (all kept events by default), oldest first. */
  since(after = 0): StoredEvent[] {
    const kept = this.#history.slice(this.#head);
    const first = kept.findIndex((e) => e.seq > after);
    return first < 0 ? [] : kept.slice(first);
  }

  /** The number of the newest event, 0 before any. */
  get last(): number {
    return this.#seq;
  }

  /** How many events were dropped from the history to keep it within its limits. */
  get dropped(): number {
    const oldest = this.#history[this.#head];
    return oldest === undefined ? this.#seq : oldest.seq - 1;
  }

  get limits(): HistoryLimits {
    return this.#limits;
  }

  /** Starts handing new events to `listener`; returns the function that stops it. */
  listen(listener: FeedListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #trim(): void {
    while (this.#history.length - this.#head > this.#limits.events || (this.#bytes > this.#limits.bytes && this.#history.length - this.#head > 1)) {
      this.#bytes -= this.#history[this.#head]!.json.length;
      this.#head++;
    }
    // Drop the consumed front now and then rather than shifting the array on every event.
    if (this.#head > 1024 && this.#head * 2 > this.#history.length) {
      this.#history.splice(0, this.#head);
      this.#head = 0;
    }
  }

  #packet({ direction, packet, bytes, connection }: PacketEvent): void {
    const shown = bytes.length > MAX_FRAME_KEPT ? bytes.subarray(0, MAX_FRAME_KEPT) : bytes;
    this.record({
      kind: 'packet',
      connection: feedConnection(connection),
      direction: direction === 'in' ? 'up' : 'down',
      type: packet.type.toUpperCase(),
      fields: keyFields(packet),
      size: bytes.length,
      hex: maskedHex(shown, packet, bytes.length),
      truncated: shown.length < bytes.length,
      lost: direction === 'out' && this.#cut.has(connection.id),
    });
  }
}

function deviceLabel(c: { productKey?: string | undefined; deviceName?: string | undefined }): string | undefined {
  return c.deviceName === undefined ? undefined : `${c.deviceName} of ${c.productKey}`;
}

function feedConnection(c: TracedConnection): FeedConnection {
  return { id: c.id, device: deviceLabel(c) };
}

/**
 * The frame as hex, a CONNECT's password as `**` per byte: the password is the last field of a
 * CONNECT [MQTT-3.1.3-1], so it is the frame's last bytes. It never leaves the server, because
 * the platform does not check the timestamp it signs: a password seen is a password that works.
 */
function maskedHex(shown: Uint8Array, packet: Packet, size: number): string {
  const masked = packet.type === 'connect' && packet.password !== undefined ? packet.password.length : 0;
  const from = size - masked;
  let hex = '';
  for (let i = 0; i < shown.length; i++) hex += i >= from ? '**' : shown[i]!.toString(16).padStart(2, '0');
  return hex;
}

/** What the arrow of each packet type says about it. */
export function keyFields(packet: Packet): KeyFields {
  switch (packet.type) {
    case 'connect':
      return { clientId: packet.clientId, username: packet.username, keepalive: packet.keepalive, clean: packet.clean };
    case 'connack':
      return { returnCode: packet.returnCode, sessionPresent: packet.sessionPresent };
    case 'publish':
      return {
        topic: packet.topic,
        qos: packet.qos,
        packetId: packet.packetId,
        dup: packet.dup,
        retain: packet.retain,
        payloadBytes: packet.payload.length,
      };
    case 'subscribe':
      return { packetId: packet.packetId, filters: packet.subscriptions.map((s) => ({ filter: s.topicFilter, qos: s.qos })) };
    case 'suback':
      return { packetId: packet.packetId, returnCodes: packet.returnCodes };
    case 'unsubscribe':
      return { packetId: packet.packetId, filters: packet.topicFilters.map((filter) => ({ filter })) };
    case 'puback':
    case 'pubrec':
    case 'pubrel':
    case 'pubcomp':
    case 'unsuback':
      return { packetId: packet.packetId };
    default:
      return {};
  }
}
