/**
 * The blob driver port: a dumb store of immutable objects under string keys. Hashing, dedup, verification
 * and garbage collection live above it, in the chunk store; a driver only moves bytes.
 * @module
 */

/** Thrown by `get` when no object has the key. */
export class BlobNotFoundError extends Error {
  constructor(readonly key: string) {
    super(`blob not found: ${key}`);
    this.name = 'BlobNotFoundError';
  }
}

/** Whether a driver's error says the disk (or the region's quota on it) is full: the work may succeed later. */
export function isStorageFull(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT';
}

/** Thrown for a key no driver may store (see `assertValidKey`). */
export class InvalidBlobKeyError extends Error {
  constructor(
    readonly key: string,
    readonly reason: string,
  ) {
    super(`invalid blob key ${JSON.stringify(key)}: ${reason}`);
    this.name = 'InvalidBlobKeyError';
  }
}

/** Longest key a driver accepts; S3 allows 1024 bytes and the layout's keys are about 80. */
export const MAX_BLOB_KEY_LENGTH = 1024;

/** First key segment drivers keep for themselves (the fs driver stages writes under `<root>/tmp/`). */
export const RESERVED_KEY_SEGMENT = 'tmp';

const KEY_SEGMENT_PATTERN = /^[A-Za-z0-9_-][A-Za-z0-9._-]*$/;
/** Segments as KEY_SEGMENT_PATTERN, joined by `/`, the first not RESERVED_KEY_SEGMENT. */
const VALID_KEY_PATTERN = new RegExp(
  `^(?!${RESERVED_KEY_SEGMENT}(?:/|$))[A-Za-z0-9_-][A-Za-z0-9._-]*(?:/[A-Za-z0-9_-][A-Za-z0-9._-]*)*$`,
);

/**
 * The one key check every driver runs, so all backends accept the same keys: `/`-separated segments of
 * `[A-Za-z0-9._-]`, none empty, none starting with `.` (so no `..`), no leading or trailing `/`, at most
 * MAX_BLOB_KEY_LENGTH characters, and a first segment other than RESERVED_KEY_SEGMENT. Keys themselves are
 * made only by `blobs/layout.ts`; this is the driver's defence against a bug, not a parser.
 * @throws InvalidBlobKeyError
 */
export function assertValidKey(key: string): void {
  // One test for the usual, valid key (every chunk read and write asks: splitting it cost a replication
  // destination ~20 ms of its main thread per GiB); the checks below only to name what is wrong.
  if (key.length <= MAX_BLOB_KEY_LENGTH && VALID_KEY_PATTERN.test(key)) return;
  if (key.length === 0 || key.length > MAX_BLOB_KEY_LENGTH) {
    throw new InvalidBlobKeyError(key, `length must be 1..${MAX_BLOB_KEY_LENGTH}`);
  }
  const segments = key.split('/');
  if (segments[0] === RESERVED_KEY_SEGMENT) {
    throw new InvalidBlobKeyError(key, `the first segment "${RESERVED_KEY_SEGMENT}" is reserved for drivers`);
  }
  for (const segment of segments) {
    if (!KEY_SEGMENT_PATTERN.test(segment)) {
      throw new InvalidBlobKeyError(key, `bad segment ${JSON.stringify(segment)}`);
    }
  }
  throw new InvalidBlobKeyError(key, 'not a key'); // unreachable while the two checks agree
}

export interface BlobDriverCapabilities {
  /** How many requests the backend serves well at once (the chunk store bounds its parallelism by it). */
  readonly maxParallelism: number;
}

export interface BlobReader {
  /**
   * The object's bytes, in a buffer the caller owns. Rejects with BlobNotFoundError if the key is absent.
   * Sees an object once its `put` resolved (read-after-write), never a part of one.
   */
  get(key: string): Promise<Buffer>;
  /**
   * Calls `use` with the object's bytes in a buffer lent for that call only: valid until the promise `use`
   * returns settles, never to be written, kept or used after. Resolves what `use` resolves. Rejects with
   * BlobNotFoundError (without calling `use`) if the key is absent. For readers that only pass bytes on (a
   * chunk sent to another region): a driver lends its own memory where it can, so a read costs no
   * allocation and no copy (fs: the O_DIRECT staging buffer the bytes were read into). Holding many lent
   * buffers at once may make further reads and writes wait for one (fs: a read waits 100 ms at most, then
   * reads into memory of its own); buffers go to reads in the order the calls were made, so a reader that
   * starts its reads in the order it will give the buffers back (as blobs/read.ts does) never waits on a
   * buffer one of its own later reads holds.
   */
  read<T>(key: string, use: (data: Buffer) => Promise<T>): Promise<T>;
  /** Whether an object has the key. Never rejects for an absent key. */
  has(key: string): Promise<boolean>;
  /**
   * The object's size and when it was last written or re-put (garbage collection spares recent objects),
   * or undefined if absent.
   */
  stat(key: string): Promise<BlobStat | undefined>;
}

export interface BlobStat {
  readonly size: number;
  readonly modifiedAt: Date;
}

export interface PutOptions {
  /**
   * Let `put` resolve once the object is written and visible, before it is durable: a crash may then lose
   * the object (never leave a part of one) until a later `flush` (a barrier) covering it has resolved. For writers that store many objects before one commit point, e.g. ingest: its chunks, then
   * `flush`, then the manifest that lists them. Default false: durable when `put` resolves.
   */
  readonly deferSync?: boolean;
}

export interface AllocateOptions {
  /** Carve the buffers out of one SharedArrayBuffer (default false). */
  readonly shared?: boolean;
}

export interface BlobWriter {
  /**
   * Stores `data` under `key`, durably (see PutOptions.deferSync), atomically: readers see either nothing or
   * all of it, and a crash leaves no partial object under `key`. Objects are immutable: putting an existing
   * key again stores nothing (same key means same content, since keys are content addresses) and refreshes
   * its age as `touch` does. Safe to call concurrently. The driver does not keep `data` once the promise
   * settles, so the caller may reuse its memory (ingest reuses a ring of chunk buffers). Rejects with
   * InvalidBlobKeyError for a key `assertValidKey` refuses.
   */
  put(key: string, data: Buffer, options?: PutOptions): Promise<void>;
  /**
   * Refreshes the age (`stat().modifiedAt`) of the object under `key`, so garbage collection, which spares
   * recent objects, spares it; resolves false (and does nothing) if there is none. The chunk store's
   * presence check before a put: one call instead of `has` and then a put that finds the object.
   */
  touch(key: string): Promise<boolean>;
  /**
   * `count` buffers of `size` bytes that `put` stores fastest when given one of them (or a view of one from
   * its start): the fs driver's are aligned for O_DIRECT and written without a staging copy. For writers
   * that reuse a few buffers for many objects (a replication lane). Plain memory for drivers with no such
   * preference. With `shared`, the buffers are views of one SharedArrayBuffer (`buffer`), so that worker
   * threads can read them in place (ingest's hash workers).
   */
  allocate(count: number, size: number, options?: AllocateOptions): Promise<Buffer[]>;
  /**
   * Makes durable the objects put with `deferSync` whose `put` resolved before this call: those under
   * `keys`, or all of them if `keys` is undefined. Resolves at once when there are none (and always, for a
   * driver whose puts are durable anyway). Concurrency-safe; a rejected flush leaves its objects to the next.
   */
  flush(keys?: readonly string[]): Promise<void>;
}

export interface BlobDeleter {
  /** Removes the object; idempotent (no error if absent). */
  delete(key: string): Promise<void>;
}

export interface BlobLister {
  /**
   * Every key that starts with `prefix` (`''` = all), in no particular order. Keys put during the walk may be
   * missed. Objects still being staged by `put` are never listed.
   */
  list(prefix: string): AsyncIterable<string>;
}

/** What a driver's `compact` gave back. */
export interface CompactReport {
  /** Files (fs: packs) removed or rewritten. */
  packsRemoved: number;
  /** Bytes of storage freed. */
  bytesReclaimed: number;
  /** Bytes of live objects copied to free the rest. */
  bytesCopied: number;
}

export interface BlobDriver extends BlobReader, BlobWriter, BlobDeleter, BlobLister {
  readonly name: string;
  readonly capabilities: BlobDriverCapabilities;
  /**
   * For drivers that keep deleted objects' space until they rewrite what holds them (fs: packs): frees the
   * space of deleted objects where at least `threshold` (0..1) of a unit is garbage. Never loses an object
   * that is not deleted, whatever runs meanwhile. Garbage collection calls it after its sweep.
   */
  compact?(threshold?: number): Promise<CompactReport>;
  /** Makes every write durable and lets go of files, locks and connections. */
  close?(): Promise<void>;
}
