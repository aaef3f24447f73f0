import { requireIntegerIn } from '../../shared/validate.js';

/** The largest Alink message id: ids are decimal strings in the unsigned 32-bit range. */
export const MAX_ALINK_ID = 4_294_967_295;

/**
 * Hands out Alink request ids for one connection: decimal strings counting up from `start`
 * (default 1) to {@link MAX_ALINK_ID}, then wrapping to 1. Ids are unique within any run of
 * 4,294,967,295 consecutive calls; 0 is never used.
 */
export class AlinkIdGenerator {
  #next: number;

  /** @throws ConfigurationError (`field` `start`) unless `start` is an integer in 1..4294967295. */
  constructor(start = 1) {
    this.#next = requireIntegerIn('start', start, 1, MAX_ALINK_ID, `use an integer in 1..${MAX_ALINK_ID}`);
  }

  /** The next id, e.g. `'1'`, `'2'`, ... */
  next(): string {
    const id = this.#next;
    this.#next = id === MAX_ALINK_ID ? 1 : id + 1;
    return String(id);
  }
}
