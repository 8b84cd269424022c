/**
 * Sending stored chunks (a whole image, an HTTP byte range of one, or a replication batch) to a byte sink
 * such as an HTTP response, in order and in constant memory. Each chunk goes to the sink from the buffer the
 * store lends it in (ChunkStore.readChunk) and is given back once the sink has taken the bytes; a few reads
 * run ahead of the chunk being written. Zero chunks come from ZERO_CHUNK without I/O.
 *
 * Written by hand rather than as a Readable piped into the response: through a stream every chunk needed a
 * buffer of its own, 1 MiB of garbage per chunk, and V8's collector took 0.4-0.6 s of the main thread per
 * GiB sent (`--cpu-prof` of the download and replication benchmarks on the 2-core dev VM).
 * @module
 */
import { FerryError } from '../domain/errors.js';
import type { Digest } from '../domain/ids.js';
import { chunkIndexRange, chunkLength, type Manifest, type ManifestIndex } from '../domain/manifest.js';
import { ZERO_CHUNK, type ChunkStore } from './chunk-store.js';

/**
 * Chunk reads in flight ahead of the chunk being written (default 4): chunks usually come from the disk
 * (the fs driver writes them past the page cache), and a few reads in flight hide its latency.
 */
export const READ_AHEAD_CHUNKS = 4;

/**
 * How long a receiver may take none of a piece before the sender gives up (default 60 s, as nginx's
 * `send_timeout`): a piece waiting on the socket holds a buffer the store lent from a pool shared by every
 * reader, so a client that stops reading must not keep it for ever.
 */
export const SEND_TIMEOUT_MS = 60_000;

/** The receiver took none of a piece for `SEND_TIMEOUT_MS`. */
export class SendTimeoutError extends Error {
  constructor(readonly timeoutMs: number) {
    super(`the receiver took nothing for ${timeoutMs} ms`);
    this.name = 'SendTimeoutError';
  }
}

/** The part `from..to` (end exclusive) of one chunk, to be sent. */
export interface ChunkPiece {
  /** The chunk's digest; null for a zero chunk. */
  readonly digest: Digest | null;
  /** The chunk's whole length, as its manifest says: a stored chunk of another length is corrupt. */
  readonly length: number;
  readonly from: number;
  readonly to: number;
}

/** Where pieces go: an http.ServerResponse, or any stream.Writable. */
export interface ByteSink {
  /** Calls `callback` once the sink has taken `data` (the buffer may then be reused). */
  write(data: Buffer, callback: (error?: Error | null) => void): unknown;
  once(event: 'close', listener: () => void): unknown;
  off(event: 'close', listener: () => void): unknown;
  destroy(): unknown;
}

export interface WritePiecesOptions {
  /** Reads in flight ahead of the piece being written (default: READ_AHEAD_CHUNKS). */
  readonly readAhead?: number;
  /**
   * Awaited before each piece's read starts, with its length (a bandwidth cap); may reject to stop. Before the
   * read, not the write, so that a paced sender holds no lent buffer while it waits.
   */
  readonly pace?: (bytes: number, signal: AbortSignal) => Promise<void>;
  /** See SEND_TIMEOUT_MS (the default). */
  readonly sendTimeoutMs?: number;
  /** Told the length of each piece the sink has taken. */
  readonly onWritten?: (bytes: number) => void;
}

/** A stored chunk whose length is not the one its manifest gives. */
export class CorruptChunkError extends Error {
  constructor(
    readonly digest: Digest,
    readonly expected: number,
    readonly actual: number,
  ) {
    super(`stored chunk ${digest} has ${actual} bytes, its manifest says ${expected}`);
    this.name = 'CorruptChunkError';
  }
}

/** A byte range of an image, inclusive as in HTTP. */
export interface ImageRange {
  readonly start: number;
  readonly end: number;
}

/** The pieces of one image range, how many bytes they hold, and the stored chunks they read. */
export interface ImageRangePieces {
  readonly pieces: Iterable<ChunkPiece>;
  readonly bytes: number;
  /** The distinct non-zero chunks the pieces read, in order: what a reader holds from GC while it sends. */
  readonly digests: Iterable<Digest>;
}

/**
 * The pieces of the image described by `manifest`, bytes `range.start..range.end` (default: all of it),
 * how many bytes they hold and which chunks they read. Only the chunks of the range are looked at, so a
 * range of a ManifestIndex costs its own chunks whatever the image's size.
 * @throws FerryError RANGE_NOT_SATISFIABLE (before anything is read) unless `0 <= start <= end < size`
 */
export function imagePieces(manifest: Manifest | ManifestIndex, range?: ImageRange): ImageRangePieces {
  if (range === undefined && manifest.size === 0) return { pieces: [], bytes: 0, digests: [] };
  const start = range?.start ?? 0;
  const end = range?.end ?? manifest.size - 1;
  let first: number;
  let last: number;
  try {
    ({ first, last } = chunkIndexRange(manifest, start, end));
  } catch {
    throw new FerryError('RANGE_NOT_SATISFIABLE', `bytes ${start}-${end} are not within the image`, {
      size: manifest.size,
    });
  }
  const digestAt =
    'digestAt' in manifest
      ? (index: number) => manifest.digestAt(index)
      : (index: number) => manifest.chunks[index] ?? null;
  function* pieces(): Generator<ChunkPiece> {
    for (let index = first; index <= last; index++) {
      const chunkStart = index * manifest.chunkSize;
      const length = chunkLength(manifest, index);
      yield {
        digest: digestAt(index),
        length,
        from: Math.max(start - chunkStart, 0),
        to: Math.min(end - chunkStart + 1, length),
      };
    }
  }
  function* digests(): Generator<Digest> {
    const seen = new Set<Digest>();
    for (let index = first; index <= last; index++) {
      const digest = digestAt(index);
      if (digest === null || seen.has(digest)) continue;
      seen.add(digest);
      yield digest;
    }
  }
  return { pieces: pieces(), bytes: end - start + 1, digests: { [Symbol.iterator]: digests } };
}

/**
 * Writes the pieces' bytes to `sink` in order and resolves once the sink has taken the last. Rejects, and
 * starts no more reads, if a chunk is missing (BlobNotFoundError) or corrupt (CorruptChunkError), if `pace`
 * rejects, if the sink closes first or takes nothing for `sendTimeoutMs` (SendTimeoutError); the sink is left
 * as it is (the caller ends or destroys it). Settles only once every read it started has given its buffer
 * back.
 * @example
 * const { pieces, bytes } = imagePieces(manifest, { start: 0, end: 1023 });
 * res.writeHead(206, { 'content-length': bytes });
 * await writePieces(res, store, pieces);
 * res.end();
 */
export async function writePieces(
  sink: ByteSink,
  store: ChunkStore,
  pieces: Iterable<ChunkPiece>,
  options: WritePiecesOptions = {},
): Promise<void> {
  const readAhead = Math.max(1, options.readAhead ?? READ_AHEAD_CHUNKS);
  const sendTimeoutMs = options.sendTimeoutMs ?? SEND_TIMEOUT_MS;
  const closed = new AbortController();
  const onClose = () => closed.abort(new Error('the receiver closed the connection'));
  sink.once('close', onClose);
  let failure: { error: unknown } | undefined;
  /** Settles once the piece before has been taken by the sink (or failed): pieces go out in order. */
  let previous: Promise<void> = Promise.resolve();
  /** Pieces read or waiting for their turn, oldest first. */
  const window: Array<Promise<void>> = [];

  const write = async (data: Buffer, turn: Promise<void>): Promise<void> => {
    await turn; // rejects if an earlier piece failed: this one is not written
    await writeTaken(sink, data, closed.signal, sendTimeoutMs);
    options.onWritten?.(data.length);
  };

  try {
    for (const piece of pieces) {
      while (window.length > readAhead) await Promise.allSettled([window.shift()]);
      if (failure) throw failure.error;
      if (closed.signal.aborted) throw closed.signal.reason;
      await options.pace?.(piece.to - piece.from, closed.signal);
      const turn = previous;
      let send: Promise<void>;
      const { digest } = piece;
      if (digest === null) {
        // Zero chunks of a chunkSize above ZERO_CHUNK's (not Ferry's own manifests) are allocated.
        const zeros = piece.to <= ZERO_CHUNK.length ? ZERO_CHUNK : Buffer.alloc(piece.to);
        send = write(zeros.subarray(piece.from, piece.to), turn);
      } else {
        // Reads are started in order and drivers lend buffers in the order reads were started (BlobReader
        // .read), so the earliest piece waiting is never short of a buffer held by a later one.
        send = store.readChunk(digest, async (data) => {
          if (data.length !== piece.length) throw new CorruptChunkError(digest, piece.length, data.length);
          await write(data.subarray(piece.from, piece.to), turn);
        });
      }
      send.catch((error: unknown) => (failure ??= { error }));
      window.push(send);
      previous = send;
    }
    await previous;
  } finally {
    await Promise.allSettled(window); // no lent buffer outlives the call
    sink.off('close', onClose);
  }
}

/**
 * Writes `data` to `sink` and resolves once the sink has taken it (its write callback), so the caller may
 * reuse the buffer; rejects if the write fails, `signal` aborts (the receiver went away) or `timeoutMs`
 * passes first.
 */
function writeTaken(sink: ByteSink, data: Buffer, signal: AbortSignal, timeoutMs: number): Promise<void> {
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise<void>((resolve, reject) => {
    const onAbort = () => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    const timer = setTimeout(() => {
      // Destroyed before the buffer is given back: the socket may still hold it, and a buffer reused for
      // another chunk must never reach this receiver.
      sink.destroy();
      reject(new SendTimeoutError(timeoutMs));
    }, timeoutMs);
    sink.write(data, (error) => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      if (error) reject(error);
      else resolve();
    });
  });
}
