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
export function chunkLength(manifest: Manifest, index: number): number {
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

/**
 * Parses and validates a serialised manifest, refusing anything `serializeManifest` would not produce
 * (bad magic or version, non-canonical runs, wrong chunk count, trailing bytes).
 * @throws InvalidManifestError
 */
export function parseManifest(bytes: Uint8Array): Manifest {
  const data = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
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
  const chunks: Array<Digest | null> = [];
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
    if (chunks.length + count > total) throw new InvalidManifestError(`more than ${total} chunks`);
    previousKind = kind;
    if (kind === ZERO_RUN) {
      for (let i = 0; i < count; i++) chunks.push(null);
    } else {
      if (offset + count * DIGEST_BYTES > data.length) throw new InvalidManifestError('truncated digest run');
      for (let i = 0; i < count; i++, offset += DIGEST_BYTES) {
        chunks.push(data.toString('hex', offset, offset + DIGEST_BYTES) as Digest);
      }
    }
  }
  if (chunks.length !== total) throw new InvalidManifestError(`${chunks.length} chunks, expected ${total}`);
  if (offset !== data.length) throw new InvalidManifestError('trailing bytes');
  return { chunkSize, size, chunks };
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
  manifest: Manifest,
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
