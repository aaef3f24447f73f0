/** What went wrong with a durable store; callers branch on these codes, never on message text. */
export type StoreErrorCode =
  /** Another process (or another store object in this one) holds the store for this client id. */
  | 'store-locked'
  /** No room: the disk is full, a quota is reached, or the store's `maxBytes` cap. Nothing was stored. */
  | 'store-full'
  /** Reading or writing the store failed for another reason (the error is the `cause`). */
  | 'store-io'
  /** The file is damaged or is not a store: records were skipped, or the file could not be read at all. */
  | 'store-corrupt'
  /** The file was written by a newer version of this library. */
  | 'store-version'
  /** The directory no longer accepts new files (permissions, a read-only mount). */
  | 'store-not-writable'
  /** The store is not open: `add` before `open` or after `close`. */
  | 'store-closed';

/** How much of a store file was found damaged when it was opened (see {@link StoreError.damage}). */
export interface StoreDamage {
  /** Runs of bytes that did not read as valid records and were skipped, each followed by valid ones. */
  readonly regions: number;
  readonly bytes: number;
  /** Valid records that made no sense where they stood (a `sent` or `acknowledged` for no stored message, a key out of order). */
  readonly strayRecords: number;
}

/** An error of a durable outbox store. The message says what is wrong and how to fix it. */
export class StoreError extends Error {
  override readonly name = 'StoreError';
  readonly code: StoreErrorCode;
  /** The store file concerned, when there is one. */
  readonly path: string | undefined;
  /** For `store-corrupt` reported on open: what was skipped. */
  readonly damage: StoreDamage | undefined;

  constructor(code: StoreErrorCode, message: string, options: { cause?: unknown; path?: string; damage?: StoreDamage } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.path = options.path;
    this.damage = options.damage;
  }
}

/** The system error codes that mean "no room": the disk, a quota, the largest file the system allows. */
const NO_ROOM = new Set(['ENOSPC', 'EDQUOT', 'EFBIG']);
const NOT_WRITABLE = new Set(['EACCES', 'EPERM', 'EROFS']);

/** A StoreError for a failed system call on `path`, with a message that says what to do. */
export function ioError(doing: string, path: string, cause: unknown): StoreError {
  const code = (cause as NodeJS.ErrnoException | undefined)?.code ?? '';
  const detail = cause instanceof Error ? cause.message : String(cause);
  if (NO_ROOM.has(code)) {
    return new StoreError('store-full', `${doing} ${path} failed, no room (${detail}); free some space: the store retries on the next message and keeps what it had stored`, { cause, path });
  }
  if (NOT_WRITABLE.has(code)) {
    return new StoreError('store-not-writable', `${doing} ${path} failed (${detail}); make the directory writable by this process`, { cause, path });
  }
  return new StoreError('store-io', `${doing} ${path} failed (${detail})`, { cause, path });
}

/** The `store-corrupt` report of damage found in `file` when it was opened, `intact` messages kept. */
export function damageError(file: string, damage: StoreDamage, intact: number): StoreError {
  return new StoreError(
    'store-corrupt',
    `${file} was damaged: ${damage.regions} run(s) of ${damage.bytes} bytes did not read as records and were skipped, with ${damage.strayRecords} record(s) that belonged to nothing; ` +
      `the ${intact} intact messages are kept, and messages in the skipped bytes are lost. Check the disk (a failing card or drive is the usual cause)`,
    { path: file, damage },
  );
}

/** The `store-full` refusal of a message of `size` bytes that would take the store past `maxBytes`. */
export function capError(path: string | undefined, messages: number, bytes: number, size: number, maxBytes: number): StoreError {
  return new StoreError(
    'store-full',
    `the store holds ${messages} messages in ${bytes} bytes and a message of ${size} bytes would pass maxBytes (${maxBytes}); ` +
      'wait for acknowledgements (the client must be connected), or raise maxBytes',
    { path },
  );
}
