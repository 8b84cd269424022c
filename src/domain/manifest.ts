/**
 * Manifests: an image's data as an ordered list of fixed-size chunks, each named by its SHA-256 or `null`
 * for an all-zero chunk. Pure: the type, its compact binary form, validation and range arithmetic; no I/O.
 *
 * Glossary: *chunk* = CHUNK_SIZE bytes of an image at a multiple of CHUNK_SIZE (the last may be short);
 * *zero chunk* = a chunk of only zero bytes, recorded as `null` and never stored; *zero run* = consecutive
 * zero chunks, one small record in the serialised form; *manifest digest* = SHA-256 of the serialised form,
 * the manifest's content address.
 * @module
 */
import { createHash } from 'node:crypto';
import { isDigest, type Digest } from './ids.js';

/**
 * Ferry's chunk size: 1 MiB, fixed. Fixed-size chunks because for VM disk images (file systems allocate
 * in aligned blocks) they dedup nearly as well as content-defined chunking (Jin & Miller, SYSTOR '09), while
 * costing no rolling-hash CPU and letting a byte offset map to a chunk by division, which HTTP range reads
 * and zero runs rely on. 1 MiB keeps a 128 GiB image at 131072 entries (a 4 MiB manifest) and a chunk at
 * one cheap object per request.
 */
export const CHUNK_SIZE = 1024 * 1024;

/** An image's content. Byte `i` of the image is in chunk `Math.floor(i / chunkSize)`. */
export interface Manifest {
  /** Bytes per chunk; every chunk but the last has exactly this many. */
  readonly chunkSize: number;
  /** The image's size in bytes. */
  readonly size: number;
  /** `ceil(size / chunkSize)` entries, in order: the chunk's SHA-256, or `null` for an all-zero chunk. */
  readonly chunks: ReadonlyArray<Digest | null>;
}

/** Thrown by `parseManifest` and `assertValidManifest`; `reason` says what is wrong. */
export class InvalidManifestError extends Error {
  constructor(readonly reason: string) {
    super(`invalid manifest: ${reason}`);
    this.name = 'InvalidManifestError';
  }
}

/** How many chunks an image of `size` bytes has. */
export function chunkCount(size: number, chunkSize: number): number {
  return Math.ceil(size / chunkSize);
}

/** Bytes in chunk `index` (chunkSize, except for a short last chunk). */
export function chunkLength(manifest: Pick<Manifest, 'chunkSize' | 'size'>, index: number): number {
  return Math.min(manifest.chunkSize, manifest.size - index * manifest.chunkSize);
}

/**
 * Checks the invariants of the type: positive integer chunkSize below 2^32, non-negative safe integer size,
 * exactly `ceil(size / chunkSize)` entries, each `null` or a lower-case hex SHA-256.
 * @throws InvalidManifestError
 */
export function assertValidManifest(manifest: Manifest): void {
  const { chunkSize, size, chunks } = manifest;
  if (!Number.isInteger(chunkSize) || chunkSize < 1 || chunkSize > 0xffff_ffff) {
    throw new InvalidManifestError(`chunkSize ${chunkSize} is not an integer in 1..2^32-1`);
  }
  if (!Number.isSafeInteger(size) || size < 0) throw new InvalidManifestError(`size ${size} is not valid`);
  const expected = chunkCount(size, chunkSize);
  if (chunks.length !== expected) {
    throw new InvalidManifestError(`${chunks.length} chunks for ${size} bytes, expected ${expected}`);
  }
  chunks.forEach((chunk, index) => {
    if (chunk !== null && !isDigest(chunk)) throw new InvalidManifestError(`chunk ${index} is not a digest`);
  });
}

/*
 * Serialised form (version 1), big-endian, canonical: one manifest has exactly one encoding, so its digest
 * is stable and parse(serialise(m)) round-trips.
 *
 *   offset  size  field
 *   0       4     magic "FRMF"
 *   4       1     format version = 1
 *   5       3     reserved, zero
 *   8       4     chunkSize (u32)
 *   12      8     size (u64, at most 2^53-1)
 *   20      4     number of runs (u32)
 *   24      ...   runs, each: kind (u8: 0 = zero run, 1 = digest run), count (u32 > 0),
 *                 then for a digest run `count` raw 32-byte SHA-256 digests
 *
 * Runs alternate kinds (no two neighbours of the same kind) and their counts sum to the chunk count.
 * Size: 24 bytes + 5 per run + 32 per non-zero chunk, so 4 MiB for 128 GiB of random data, and 29 bytes
 * for an empty disk of any size.
 */
const MAGIC = Buffer.from('FRMF', 'latin1');
const FORMAT_VERSION = 1;
const HEADER_BYTES = 24;
const RUN_HEADER_BYTES = 5;
const DIGEST_BYTES = 32;
const ZERO_RUN = 0;
const DIGEST_RUN = 1;

interface Run {
  readonly kind: typeof ZERO_RUN | typeof DIGEST_RUN;
  readonly start: number;
  readonly count: number;
}

function runsOf(chunks: ReadonlyArray<Digest | null>): Run[] {
  const runs: Run[] = [];
  let start = 0;
  for (let i = 1; i <= chunks.length; i++) {
    if (i === chunks.length || (chunks[i] === null) !== (chunks[start] === null)) {
      runs.push({ kind: chunks[start] === null ? ZERO_RUN : DIGEST_RUN, start, count: i - start });
      start = i;
    }
  }
  return runs;
}

/**
 * The canonical binary form of a manifest (format above).
 * @throws InvalidManifestError if the manifest breaks the type's invariants
 */
export function serializeManifest(manifest: Manifest): Buffer {
  assertValidManifest(manifest);
  const runs = runsOf(manifest.chunks);
  const digestCount = manifest.chunks.reduce((n, chunk) => (chunk === null ? n : n + 1), 0);
  const out = Buffer.alloc(HEADER_BYTES + RUN_HEADER_BYTES * runs.length + DIGEST_BYTES * digestCount);
  MAGIC.copy(out, 0);
  out.writeUInt8(FORMAT_VERSION, 4);
  out.writeUInt32BE(manifest.chunkSize, 8);
  out.writeBigUInt64BE(BigInt(manifest.size), 12);
  out.writeUInt32BE(runs.length, 20);
  let offset = HEADER_BYTES;
  for (const run of runs) {
    out.writeUInt8(run.kind, offset);
    out.writeUInt32BE(run.count, offset + 1);
    offset += RUN_HEADER_BYTES;
    if (run.kind === DIGEST_RUN) {
      for (let i = run.start; i < run.start + run.count; i++) {
        offset += out.write(manifest.chunks[i] as string, offset, DIGEST_BYTES, 'hex');
      }
    }
  }
  return out;
}

/** One run of a serialised manifest, located: its kind, its first chunk index and where its digests start. */
interface LocatedRun {
  readonly kind: typeof ZERO_RUN | typeof DIGEST_RUN;
  readonly firstChunk: number;
  readonly count: number;
  /** Byte offset of the run's first digest in the serialised form (digest runs only). */
  readonly digestOffset: number;
}

/**
 * Walks and validates a serialised manifest's header and runs without decoding a digest, refusing anything
 * `serializeManifest` would not produce (bad magic or version, non-canonical runs, wrong chunk count,
 * trailing bytes). `onRun` is told each run in order.
 * @throws InvalidManifestError
 */
function readRuns(
  data: Buffer,
  onRun: (run: LocatedRun) => void,
): { chunkSize: number; size: number; chunkCount: number } {
  if (data.length < HEADER_BYTES || !data.subarray(0, 4).equals(MAGIC)) {
    throw new InvalidManifestError('not a Ferry manifest');
  }
  const version = data.readUInt8(4);
  if (version !== FORMAT_VERSION) throw new InvalidManifestError(`unsupported format version ${version}`);
  if (data.readUIntBE(5, 3) !== 0) throw new InvalidManifestError('reserved header bytes are not zero');
  const chunkSize = data.readUInt32BE(8);
  const size64 = data.readBigUInt64BE(12);
  if (size64 > BigInt(Number.MAX_SAFE_INTEGER)) throw new InvalidManifestError('size too large');
  const size = Number(size64);
  if (chunkSize === 0) throw new InvalidManifestError('chunkSize is 0');
  const runCount = data.readUInt32BE(20);
  const total = chunkCount(size, chunkSize);
  let chunks = 0;
  let offset = HEADER_BYTES;
  let previousKind = -1;
  for (let r = 0; r < runCount; r++) {
    if (offset + RUN_HEADER_BYTES > data.length) throw new InvalidManifestError('truncated run header');
    const kind = data.readUInt8(offset);
    const count = data.readUInt32BE(offset + 1);
    offset += RUN_HEADER_BYTES;
    if (kind !== ZERO_RUN && kind !== DIGEST_RUN) throw new InvalidManifestError(`unknown run kind ${kind}`);
    if (count === 0) throw new InvalidManifestError('empty run');
    if (kind === previousKind) throw new InvalidManifestError('two neighbouring runs of the same kind');
    if (chunks + count > total) throw new InvalidManifestError(`more than ${total} chunks`);
    previousKind = kind;
    if (kind === DIGEST_RUN && offset + count * DIGEST_BYTES > data.length) {
      throw new InvalidManifestError('truncated digest run');
    }
    onRun({ kind, firstChunk: chunks, count, digestOffset: offset });
    chunks += count;
    if (kind === DIGEST_RUN) offset += count * DIGEST_BYTES;
  }
  if (chunks !== total) throw new InvalidManifestError(`${chunks} chunks, expected ${total}`);
  if (offset !== data.length) throw new InvalidManifestError('trailing bytes');
  return { chunkSize, size, chunkCount: total };
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * Parses and validates a serialised manifest, refusing anything `serializeManifest` would not produce
 * (bad magic or version, non-canonical runs, wrong chunk count, trailing bytes).
 * @throws InvalidManifestError
 */
export function parseManifest(bytes: Uint8Array): Manifest {
  const data = asBuffer(bytes);
  const chunks: Array<Digest | null> = [];
  const { chunkSize, size } = readRuns(data, (run) => {
    for (let i = 0; i < run.count; i++) {
      if (run.kind === ZERO_RUN) chunks.push(null);
      else {
        const at = run.digestOffset + i * DIGEST_BYTES;
        chunks.push(data.toString('hex', at, at + DIGEST_BYTES) as Digest);
      }
    }
  });
  return { chunkSize, size, chunks };
}

/**
 * A manifest read in place from its serialised form: chunk `i`'s digest is found by a binary search over
 * the runs' first chunk indexes and decoded on demand. A range read of a 100 GiB image thus decodes only
 * the chunks it sends, where a parsed Manifest is ~100 bytes of JavaScript strings per chunk built before
 * the first byte goes out; the index keeps 32 bytes per chunk (the serialised form itself, off the V8 heap)
 * plus 16 per run.
 */
export interface ManifestIndex {
  /** Bytes per chunk; every chunk but the last has exactly this many. */
  readonly chunkSize: number;
  /** The image's size in bytes. */
  readonly size: number;
  /** `ceil(size / chunkSize)`. */
  readonly chunkCount: number;
  /** Memory the index keeps (its serialised form and run table): what a cache of indexes counts. */
  readonly retainedBytes: number;
  /**
   * Chunk `index`'s digest, or null for a zero chunk.
   * @throws RangeError unless `0 <= index < chunkCount`
   */
  digestAt(index: number): Digest | null;
}

/** Run table bytes per run: a Float64 first chunk index and a Float64 digest offset. */
const RUN_TABLE_BYTES_PER_RUN = 16;

/**
 * Validates a serialised manifest as `parseManifest` does (the same refusals) and indexes its runs, without
 * decoding any digest. The index keeps `bytes`: the caller must not change them.
 * @throws InvalidManifestError
 * @example indexManifest(serializeManifest(m)).digestAt(3) === m.chunks[3]
 */
export function indexManifest(bytes: Uint8Array): ManifestIndex {
  const data = asBuffer(bytes);
  const firstChunks: number[] = [];
  /** Where each run's digests start; -1 for a zero run. */
  const digestOffsets: number[] = [];
  const {
    chunkSize,
    size,
    chunkCount: count,
  } = readRuns(data, (run) => {
    firstChunks.push(run.firstChunk);
    digestOffsets.push(run.kind === DIGEST_RUN ? run.digestOffset : -1);
  });
  const runFirstChunk = Float64Array.from(firstChunks);
  const runDigestOffset = Float64Array.from(digestOffsets);
  return {
    chunkSize,
    size,
    chunkCount: count,
    retainedBytes: data.length + RUN_TABLE_BYTES_PER_RUN * runFirstChunk.length,
    digestAt(index) {
      if (!Number.isInteger(index) || index < 0 || index >= count) {
        throw new RangeError(`chunk ${index} is outside a manifest of ${count} chunks`);
      }
      // The last run whose first chunk is at or before `index`.
      let low = 0;
      let high = runFirstChunk.length - 1;
      while (low < high) {
        const middle = (low + high + 1) >>> 1;
        if (runFirstChunk[middle]! <= index) low = middle;
        else high = middle - 1;
      }
      const offset = runDigestOffset[low]!;
      if (offset < 0) return null;
      const at = offset + (index - runFirstChunk[low]!) * DIGEST_BYTES;
      return data.toString('hex', at, at + DIGEST_BYTES) as Digest;
    },
  };
}

/** The manifest's content address: SHA-256 (lower-case hex) of its canonical serialised form. */
export function manifestDigest(manifest: Manifest): Digest {
  return createHash('sha256').update(serializeManifest(manifest)).digest('hex') as Digest;
}

/**
 * The chunks holding bytes `start..end` (both inclusive, as in an HTTP Range), as inclusive indexes.
 * @throws RangeError unless `0 <= start <= end < size` (integers)
 * @example chunkIndexRange(m, 0, m.size - 1) // { first: 0, last: m.chunks.length - 1 }
 */
export function chunkIndexRange(
  manifest: Pick<Manifest, 'chunkSize' | 'size'>,
  start: number,
  end: number,
): { first: number; last: number } {
  if (
    !Number.isSafeInteger(start) ||
    !Number.isSafeInteger(end) ||
    start < 0 ||
    end < start ||
    end >= manifest.size
  ) {
    throw new RangeError(`byte range ${start}-${end} is outside an image of ${manifest.size} bytes`);
  }
  return { first: Math.floor(start / manifest.chunkSize), last: Math.floor(end / manifest.chunkSize) };
}

/** The distinct non-zero chunk digests, in order of first appearance (what a region must hold). */
export function distinctDigests(manifest: Manifest): Digest[] {
  const seen = new Set<Digest>();
  for (const chunk of manifest.chunks) if (chunk !== null) seen.add(chunk);
  return [...seen];
}
