/**
 * Streaming ingest: turns an upload into stored chunks and a stored manifest in constant memory, computing
 * the whole-image MD5 and `os_hash_value` (SHA-512, or SHA-256 where the deployment chose it) Glance reports
 * on the way.
 *
 * Pipeline, per 1 MiB chunk (at most INGEST_WINDOW chunks in flight, in a SharedArrayBuffer ring):
 *   source piece → observe(piece) → copy into a free ring slot (a DirectSource, an upload's socket, reads
 *   into the slot itself: no copy) → when the slot is full:
 *     ├─ MD5 stream on a hash-pool thread      reads the slot in place (stream order)
 *     ├─ SHA-512 stream on the other thread    reads the slot in place (stream order; SHA-256 if so configured)
 *     └─ main thread: all-zero? → `null` in the manifest, nothing stored
 *                     else has/put through the chunk store (verified, deduplicated), whose hash pool
 *                     computes the chunk's SHA-256 in the slot on another thread (hash-pool.ts)
 *   the slot is free again once all three are done. When no slot is free, ingest stops pulling from the
 *   source, which is the backpressure.
 * Then: wait for every chunk, put the manifest (chunks before the manifest), return.
 *
 * Measured on the 2-core dev VM (Node 20.20, 1 GiB of distinct random chunks, runs kept only when other
 * processes used < 0.15 core; the VM is shared, so numbers vary ±20% run to run):
 *   - Hash rates, one thread, 1 MiB buffers: SHA-256 1.65 GiB/s (SHA-NI), MD5 0.70 GiB/s, SHA-512 0.65-0.8
 *     GiB/s, zero check (memcmp against ZERO_CHUNK) 34 GiB/s. MD5 + SHA-512 + SHA-256 need ~3.3 ms of CPU
 *     per MiB, the kernel's page-cache write + fsync ~0.8 ms more, so two cores cap ingest near 420 MiB/s
 *     whatever the design; what matters is keeping both cores busy.
 *   - SHA-256 on the process's hash pool, in the ring slot (chosen since issue 16; docs/performance.md): the
 *     main thread's CPU per GiB uploaded fell from 2.1-2.6 s to 1.2-1.6 s, the upload's wall time and total
 *     CPU stayed within the run-to-run noise (1 GiB through one region process, one run each, two rounds).
 *   - SHA-256 synchronously on the main thread (chosen before): 542-556 MiB/s with a no-op driver (1.94 cores
 *     busy), 347-377 MiB/s into the fs driver with fsync (1.8 cores: main 1.2 s, MD5 worker 1.45 s, SHA-512
 *     worker 1.35 s, libuv pool 0.8-1.1 s of CPU per GiB). Later, with the VM's page cache handed back to
 *     the host, the kernel's write path cost 1.9 s per GiB and the same runs gave 217-264 MiB/s: ingest is
 *     CPU-bound, and the kernel's share is the part that varies.
 *   - crypto.subtle.digest on the libuv pool: 421-475 MiB/s with the no-op driver: it needs a copy per chunk
 *     (WebCrypto refuses views of a SharedArrayBuffer) and the pool threads also serve the fs writes.
 *   - Not tried: posting copies to the workers instead of sharing the ring (two more 1 MiB copies and
 *     allocations per chunk, on the same two cores, and garbage the GC must chase).
 *   - UV_THREADPOOL_SIZE 4 / 8 / 16 made no measurable difference (the pipeline is CPU-bound).
 * @module
 */
import type { Readable } from 'node:stream';
import { FerryError, coerceError, isFerryError } from '../domain/errors.js';
import type { Digest } from '../domain/ids.js';
import { CHUNK_SIZE, type Manifest } from '../domain/manifest.js';
import { DEFAULT_OS_HASH_ALGO, type OsHashAlgorithm } from '../domain/image.js';
import { isZeroChunk, type ChunkHold, type ChunkStore } from './chunk-store.js';
import { processHashPool, type StreamHasher } from './hash-pool.js';

/**
 * Chunks in flight per ingest: 12, i.e. 12 MiB of shared memory per upload, which is most of what an upload
 * costs a region process. Measured through a region process on the dev VM (1 GiB upload by curl; then 8
 * uploads of 64 MiB at once, peak RSS), with the whole-stream hashes on the hash pool: 8 → 5.7-6.1 s, 240
 * MiB; 12 → 4.5 s, 275 MiB; 24 → 4.5 s, 388 MiB. (Earlier, with a thread per hash per upload, into the fs
 * driver directly: 8 → 274-315 MiB/s, 16 → 312-323, 24 → 300-377, 48 → 312-351.)
 */
export const INGEST_WINDOW = 12;

export interface IngestOptions {
  /**
   * Called in order on every piece of the source before it is stored (e.g. a disk-format inspector). It
   * must not modify the piece. Throwing aborts the ingest, which rejects with the thrown error.
   */
  readonly observe?: (piece: Buffer) => void;
  /** Aborting rejects the ingest with the abort's reason if it is a FerryError, else with UPLOAD_INCOMPLETE. */
  readonly signal?: AbortSignal;
  /** More bytes than this rejects with PAYLOAD_TOO_LARGE (default: no limit). */
  readonly maxBytes?: number;
  /**
   * Every chunk stored or found already stored is added to it (see ChunkHold), so that garbage collection
   * spares them until the caller has made something reference the manifest, then releases it.
   */
  readonly hold?: ChunkHold;
  /** The whole-image hash computed for `os_hash_value`, besides MD5 (default: sha512, Glance's). */
  readonly osHashAlgorithm?: OsHashAlgorithm;
}

export interface IngestResult {
  readonly manifest: Manifest;
  /** Where `manifest` is stored: the SHA-256 of its serialised form. */
  readonly manifestDigest: Digest;
  /** Bytes read from the source (= manifest.size). */
  readonly size: number;
  /** MD5 of the whole image, lower-case hex (Glance `checksum`). */
  readonly md5: string;
  /** The algorithm of `osHashValue` (Glance `os_hash_algo`): the one the options asked for. */
  readonly osHashAlgorithm: OsHashAlgorithm;
  /** That hash of the whole image, lower-case hex (Glance `os_hash_value`). */
  readonly osHashValue: string;
  /** Bytes of chunks this ingest stored. */
  readonly bytesWritten: number;
  /** Bytes of non-zero chunks that were already stored (or stored earlier in this same ingest). */
  readonly bytesDeduplicated: number;
  /** Bytes of all-zero chunks, recorded in the manifest and not stored. */
  readonly bytesZero: number;
}

/**
 * A source that reads into the buffer it is given, so its bytes land in the ring without a copy (an upload's
 * socket: api/socket-body.ts).
 */
export interface DirectSource {
  /** Fills `target` (or less, at the end); resolves with the bytes read, 0 at the end. */
  readInto(target: Buffer): Promise<number>;
  /** Stops reading; a read in progress rejects. */
  cancel(reason: Error): void;
}

function isDirectSource(source: unknown): source is DirectSource {
  return typeof (source as Partial<DirectSource>).readInto === 'function';
}

function asBuffer(piece: unknown): Buffer {
  if (Buffer.isBuffer(piece)) return piece;
  if (piece instanceof Uint8Array) return Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength);
  throw new FerryError('UPLOAD_INCOMPLETE', 'the upload stream produced something other than bytes');
}

function abortError(signal: AbortSignal): FerryError {
  if (isFerryError(signal.reason)) return signal.reason; // the caller said why, e.g. UPLOAD_TIMEOUT
  return new FerryError('UPLOAD_INCOMPLETE', 'the upload was aborted before it ended', {
    reason: coerceError(signal.reason).message,
  });
}

/**
 * Reads `source` to its end, stores its non-zero chunks (verified, deduplicated) and then its manifest, and
 * resolves with the manifest, its digest, the whole-image MD5 and `os_hash_value` and byte counts. Memory stays
 * at about INGEST_WINDOW MiB whatever the size; the source is read only as fast as chunks are stored.
 *
 * On failure (source error or abort → UPLOAD_INCOMPLETE, too many bytes → PAYLOAD_TOO_LARGE, `observe`'s
 * error, a store error), it stops reading, stops both hash threads, waits for chunk writes in progress to
 * finish, and rejects. No manifest is stored; chunks stored before the failure are complete verified
 * objects no manifest references, which GC removes later.
 * @example
 * const result = await ingestImage(store, request.raw, { maxBytes: 128 * 2 ** 30, signal });
 */
export async function ingestImage(
  store: ChunkStore,
  source: AsyncIterable<Buffer> | Readable | DirectSource,
  options: IngestOptions = {},
): Promise<IngestResult> {
  const { observe, signal } = options;
  const osHashAlgorithm = options.osHashAlgorithm ?? DEFAULT_OS_HASH_ALGO;
  const maxBytes = options.maxBytes ?? Number.POSITIVE_INFINITY;
  if (signal?.aborted === true) throw abortError(signal);

  // The ring's slots, views of one SharedArrayBuffer made once (a view per piece or chunk would be garbage at
  // ~4000 objects per second), from the store: the fs driver's are aligned, so chunks are written to disk
  // straight from the ring, without a 1 MiB copy per chunk into a staging buffer.
  const slotViews = await store.allocateChunkBuffers(INGEST_WINDOW, CHUNK_SIZE, { shared: true });
  const memory = slotViews[0]!.buffer as SharedArrayBuffer;
  const freeSlots = Array.from({ length: INGEST_WINDOW }, (_, slot) => INGEST_WINDOW - 1 - slot);
  const chunks: Array<Digest | null> = [];
  const inFlight = new Set<Promise<void>>();
  let size = 0;
  let bytesWritten = 0;
  let bytesDeduplicated = 0;
  let bytesZero = 0;

  // The first failure wins; it wakes the main loop wherever it waits (a free slot, the source, the drain).
  let failure: Error | undefined;
  let wake: (() => void) | undefined;
  let rejectFailed!: (error: Error) => void;
  const failed = new Promise<never>((_, reject) => (rejectFailed = reject));
  failed.catch(() => undefined);
  const direct = isDirectSource(source) ? source : undefined;
  const iterator =
    direct === undefined ? (source as AsyncIterable<unknown>)[Symbol.asyncIterator]() : undefined;
  /**
   * The next bytes of the source, and whether they already lie where they belong: at the start of `target`
   * (the free part of the current slot). Undefined at the end.
   */
  async function nextPiece(target: Buffer): Promise<{ piece: Buffer; inPlace: boolean } | undefined> {
    if (direct !== undefined) {
      const count = await direct.readInto(target);
      return count === 0 ? undefined : { piece: target.subarray(0, count), inPlace: true };
    }
    const next = await (iterator as AsyncIterator<unknown>).next();
    return next.done === true ? undefined : { piece: asBuffer(next.value), inPlace: false };
  }
  let sourceDone = false;
  let interruptRead: ((error: Error) => void) | undefined;
  function fail(error: unknown): void {
    if (failure !== undefined) return;
    failure = coerceError(error);
    rejectFailed(failure);
    wake?.();
    // Unblocks a read waiting on a stalled source.
    interruptRead?.(failure);
  }
  async function waitForProgress(): Promise<void> {
    await new Promise<void>((resolve) => (wake = resolve));
    wake = undefined;
  }
  const onAbort = (): void => fail(abortError(signal as AbortSignal));
  signal?.addEventListener('abort', onAbort, { once: true });

  const hashers: StreamHasher[] = [];

  /** Chunks whose slot is not free yet, in stream order: a slot is free once both workers hashed it and it is stored. */
  interface Pending {
    readonly sequence: number;
    readonly slot: number;
    stored: boolean;
  }
  let pending: Pending[] = [];

  /** Frees the slots of the chunks both workers have hashed and the store has settled; how many it freed. */
  function reclaim(): number {
    const hashed = Math.min(...hashers.map((hasher) => hasher.hashed()));
    const before = pending.length;
    pending = pending.filter((chunk) => {
      if (!chunk.stored || chunk.sequence >= hashed) return true;
      freeSlots.push(chunk.slot);
      return false;
    });
    return before - pending.length;
  }

  async function acquireSlot(): Promise<number> {
    for (;;) {
      if (failure !== undefined) throw failure;
      const slot = freeSlots.pop();
      if (slot !== undefined) return slot;
      if (reclaim() > 0) continue;
      // Wait for what holds the oldest chunk: its store (wakes us when it settles) or a worker still hashing it.
      const oldest = pending[0] as Pending;
      // The workers run on: check again now, or a worker may finish between reclaim and the wait, and
      // nothing would wake us (a zero chunk has no store to settle).
      const lagging = hashers.filter((hasher) => hasher.hashed() <= oldest.sequence);
      if (oldest.stored && lagging.length === 0) continue;
      const progress = waitForProgress();
      if (oldest.stored) {
        const wakeNow = wake;
        for (const hasher of lagging) void hasher.whenHashed(oldest.sequence + 1).then(wakeNow);
      }
      await progress;
      const stopped = hashers.find((hasher) => hasher.failure() !== undefined);
      if (stopped !== undefined) fail(stopped.failure());
    }
  }

  function dispatch(md5: StreamHasher, osHash: StreamHasher, slot: number, length: number): void {
    const index = chunks.length;
    chunks.push(null);
    const view = slotViews[slot] as Buffer;
    const offset = view.byteOffset; // in `memory`, as the workers see it
    const data = length === CHUNK_SIZE ? view : view.subarray(0, length);
    // Queue for the workers first so they hash while this thread does SHA-256.
    md5.update(offset, length);
    osHash.update(offset, length);
    const chunk: Pending = { sequence: index, slot, stored: false };
    pending.push(chunk);
    if (isZeroChunk(data)) {
      bytesZero += length;
      chunk.stored = true;
      return;
    }
    // deferSync: the chunks become durable at one barrier, putManifest's, not one fdatasync per chunk.
    const stored: Promise<void> = store.addChunk(data, { deferSync: true, hold: options.hold }).then(
      ({ digest, written }) => {
        chunks[index] = digest;
        if (written) bytesWritten += length;
        else bytesDeduplicated += length;
        settle();
      },
      (error: unknown) => {
        settle();
        fail(error);
      },
    );
    // A chunk counts as in flight until its write has ended, even after a failure: the finally below waits
    // for every staged file to be gone before the ingest reports.
    function settle(): void {
      chunk.stored = true;
      inFlight.delete(stored);
      wake?.();
    }
    inFlight.add(stored);
  }

  try {
    const pool = processHashPool();
    const md5 = pool.stream('md5', memory);
    hashers.push(md5);
    const osHash = pool.stream(osHashAlgorithm, memory);
    hashers.push(osHash);

    let slot = await acquireSlot();
    let filled = 0;
    for (;;) {
      let next: Awaited<ReturnType<typeof nextPiece>>;
      try {
        // Not Promise.race with the long-lived `failed` promise: every race would leave a reaction on it that
        // keeps its piece alive until the ingest ends (8 GiB of pieces for an 8 GiB upload). A fresh promise per
        // read lets a failure interrupt a stalled source and is garbage once the read is done.
        next = await new Promise<Awaited<ReturnType<typeof nextPiece>>>((resolve, reject) => {
          interruptRead = reject;
          nextPiece((slotViews[slot] as Buffer).subarray(filled)).then(resolve, reject);
        });
        interruptRead = undefined;
        if (failure !== undefined) throw failure;
      } catch (error) {
        if (error === failure) throw error;
        throw new FerryError('UPLOAD_INCOMPLETE', 'the upload stream failed before it ended', {
          reason: coerceError(error).message,
        });
      }
      if (next === undefined) {
        sourceDone = true;
        break;
      }
      let { piece } = next;
      size += piece.length;
      if (size > maxBytes) {
        throw new FerryError('PAYLOAD_TOO_LARGE', `the image is larger than the limit of ${maxBytes} bytes`, {
          maxBytes,
        });
      }
      observe?.(piece);
      while (piece.length > 0) {
        // A direct source's piece lies in the slot already (it never outgrows it); another's is copied there.
        const n = next.inPlace ? piece.length : piece.copy(slotViews[slot] as Buffer, filled);
        filled += n;
        piece = piece.subarray(n);
        if (filled === CHUNK_SIZE) {
          dispatch(md5, osHash, slot, filled);
          slot = await acquireSlot();
          filled = 0;
        }
      }
    }
    if (filled > 0) dispatch(md5, osHash, slot, filled);
    while (inFlight.size > 0 && failure === undefined) await waitForProgress();
    if (failure !== undefined) throw failure;
    // The digests come after the workers have hashed everything queued.

    const [md5Hex, osHashHex] = await Promise.race([Promise.all([md5.digest(), osHash.digest()]), failed]);
    const manifest: Manifest = { chunkSize: CHUNK_SIZE, size, chunks };
    const manifestDigest = await store.putManifest(manifest, { hold: options.hold });
    return {
      manifest,
      manifestDigest,
      size,
      md5: md5Hex,
      osHashAlgorithm,
      osHashValue: osHashHex,
      bytesWritten,
      bytesDeduplicated,
      bytesZero,
    };
  } catch (error) {
    fail(error);
    throw failure;
  } finally {
    // First: no read may land in the ring once it is given back (the next upload reuses it).
    if (!sourceDone) direct?.cancel(failure ?? new Error('the ingest ended'));
    signal?.removeEventListener('abort', onAbort);
    for (const hasher of hashers) hasher.drop();
    // Writes in progress finish (their chunks are complete objects) before we report: no staged file stays.
    await Promise.allSettled(inFlight);
    store.releaseChunkBuffers(slotViews);
    if (!sourceDone) {
      // Closes a Readable (destroy) or an async generator. Not awaited: a generator stuck in its own await
      // would only answer after it, and we must not wait on a stalled client.
      iterator?.return?.().catch(() => undefined);
    }
  }
}
