/**
 * Incoming messages as an async iterator, with backpressure: when a consumer falls behind by
 * `limit` messages the session stops reading from the socket (TCP then slows the server down),
 * and reading resumes once the consumer has caught up to half of it. Nothing is dropped.
 */
import type { PublishPacket } from '../packet/types.js';

/** A message as the application gets it: the PUBLISH, with its payload as a Node Buffer (a view, not a copy). */
export interface MqttMessage extends PublishPacket {
  readonly payload: Buffer;
}

export interface MessageStreamHost {
  /** A stream crossed its limit (true) or came back under half of it (false). */
  streamBackpressure(stream: MessageStream, full: boolean): void;
  /** The consumer stopped iterating. */
  streamClosed(stream: MessageStream): void;
}

export class MessageStream implements AsyncIterableIterator<MqttMessage> {
  private readonly buffer: MqttMessage[] = [];
  private head = 0;
  private waiter: ((result: IteratorResult<MqttMessage>) => void) | undefined;
  private done = false;
  private full = false;

  constructor(
    private readonly host: MessageStreamHost,
    private readonly limit: number,
  ) {}

  /** Messages received and not yet taken by the consumer. */
  get buffered(): number {
    return this.buffer.length - this.head;
  }

  push(message: MqttMessage): void {
    if (this.done) return;
    if (this.waiter !== undefined) {
      const w = this.waiter;
      this.waiter = undefined;
      w({ value: message, done: false });
      return;
    }
    this.buffer.push(message);
    if (!this.full && this.buffered >= this.limit) {
      this.full = true;
      this.host.streamBackpressure(this, true);
    }
  }

  /** Ends the iteration after the buffered messages (the client ended). */
  finish(): void {
    this.done = true;
    if (this.waiter !== undefined && this.buffered === 0) {
      const w = this.waiter;
      this.waiter = undefined;
      w({ value: undefined, done: true });
    }
  }

  next(): Promise<IteratorResult<MqttMessage>> {
    if (this.buffered > 0) {
      const value = this.buffer[this.head]!;
      this.buffer[this.head++] = undefined as unknown as MqttMessage;
      if (this.head > 1024 && this.head * 2 > this.buffer.length) {
        this.buffer.splice(0, this.head);
        this.head = 0;
      }
      if (this.full && this.buffered <= this.limit >> 1) {
        this.full = false;
        this.host.streamBackpressure(this, false);
      }
      return Promise.resolve({ value, done: false });
    }
    if (this.done) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => {
      this.waiter = resolve;
    });
  }

  return(): Promise<IteratorResult<MqttMessage>> {
    this.done = true;
    this.buffer.length = 0;
    this.head = 0;
    if (this.full) {
      this.full = false;
      this.host.streamBackpressure(this, false);
    }
    this.host.streamClosed(this);
    if (this.waiter !== undefined) {
      const w = this.waiter;
      this.waiter = undefined;
      w({ value: undefined, done: true });
    }
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}
