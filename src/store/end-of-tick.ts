/**
 * When the store writes its batch: once per tick, however many records the tick added, and
 * before the tick ends.
 *
 * Node runs the nextTick queue before the promise jobs of a tick, and both until neither has
 * work left before it returns to the event loop. A nextTick queued from a promise job therefore
 * runs once the promise jobs queued so far have run: adds made in `await` continuations of the
 * same macrotask go into the same write, and the write still comes before the macrotask ends.
 */
export class EndOfTick {
  private scheduled = false;
  private readonly queueRun: () => void;

  constructor(run: () => void) {
    this.queueRun = (): void => void process.nextTick(run);
  }

  /** Asks for `run` before the current macrotask ends, unless it is asked for already. */
  schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    queueMicrotask(this.queueRun);
  }

  /** `run` is running, or ran early (a close, the process exiting): the next record asks again. */
  ran(): void {
    this.scheduled = false;
  }
}
