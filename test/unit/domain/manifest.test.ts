// Manifests: canonical binary form, validation and range arithmetic.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import type { Digest } from '../../../src/domain/ids.js';
import {
  CHUNK_SIZE,
  InvalidManifestError,
  assertValidManifest,
  chunkIndexRange,
  chunkLength,
  distinctDigests,
  indexManifest,
  manifestDigest,
  parseManifest,
  serializeManifest,
  type Manifest,
} from '../../../src/domain/manifest.js';

function digestOf(n: number): Digest {
  return createHash('sha256').update(String(n)).digest('hex') as Digest;
}

const A = digestOf(1);
const B = digestOf(2);
const MIXED: Manifest = {
  chunkSize: CHUNK_SIZE,
  size: 6 * CHUNK_SIZE + 10,
  chunks: [A, B, null, null, A, null, B],
};

test('CHUNK_SIZE is 1 MiB', () => {
  assert.equal(CHUNK_SIZE, 1048576);
});

test('serialise → parse round-trips, and serialising again gives the same bytes', () => {
  for (const manifest of [
    MIXED,
    { chunkSize: CHUNK_SIZE, size: 0, chunks: [] },
    { chunkSize: CHUNK_SIZE, size: 1, chunks: [null] },
    { chunkSize: 4, size: 9, chunks: [A, A, B] },
  ] satisfies Manifest[]) {
    const bytes = serializeManifest(manifest);
    const parsed = parseManifest(bytes);
    assert.deepEqual(parsed, manifest);
    assert.deepEqual(serializeManifest(parsed), bytes);
  }
});

test('zero runs are compact: 128 GiB of zeros is 29 bytes, 128 GiB of distinct chunks ~4 MiB', () => {
  const n = 131072;
  const zeros: Manifest = { chunkSize: CHUNK_SIZE, size: n * CHUNK_SIZE, chunks: new Array(n).fill(null) };
  assert.equal(serializeManifest(zeros).length, 29);
  const full: Manifest = {
    chunkSize: CHUNK_SIZE,
    size: n * CHUNK_SIZE,
    chunks: Array.from({ length: n }, (_, i) => digestOf(i)),
  };
  const bytes = serializeManifest(full);
  assert.equal(bytes.length, 24 + 5 + 32 * n);
  assert.deepEqual(parseManifest(bytes).chunks, full.chunks);
});

test('manifestDigest is the SHA-256 of the serialised form', () => {
  assert.equal(manifestDigest(MIXED), createHash('sha256').update(serializeManifest(MIXED)).digest('hex'));
  assert.notEqual(manifestDigest(MIXED), manifestDigest({ ...MIXED, size: MIXED.size - 1 }));
});

test('invalid manifests are refused before serialising', () => {
  const bad: Manifest[] = [
    { chunkSize: CHUNK_SIZE, size: 10, chunks: [] },
    { chunkSize: CHUNK_SIZE, size: 10, chunks: [A, B] },
    { chunkSize: 0, size: 0, chunks: [] },
    { chunkSize: 1.5, size: 0, chunks: [] },
    { chunkSize: CHUNK_SIZE, size: -1, chunks: [] },
    { chunkSize: CHUNK_SIZE, size: 10, chunks: ['ABC' as Digest] },
    { chunkSize: CHUNK_SIZE, size: 10, chunks: [A.toUpperCase() as Digest] },
  ];
  for (const manifest of bad) {
    assert.throws(() => assertValidManifest(manifest), InvalidManifestError);
    assert.throws(() => serializeManifest(manifest), InvalidManifestError);
  }
});

test('parse refuses corrupt and non-canonical bytes', () => {
  const good = serializeManifest(MIXED);
  const corrupt = (edit: (b: Buffer) => Buffer): Buffer => edit(Buffer.from(good));
  const cases: Array<[string, Buffer]> = [
    ['empty', Buffer.alloc(0)],
    ['magic', corrupt((b) => (b.write('XXXX', 0), b))],
    ['version', corrupt((b) => (b.writeUInt8(2, 4), b))],
    ['reserved', corrupt((b) => (b.writeUInt8(1, 6), b))],
    ['trailing', Buffer.concat([good, Buffer.alloc(1)])],
    ['truncated', good.subarray(0, good.length - 1)],
    ['size mismatch', corrupt((b) => (b.writeBigUInt64BE(BigInt(MIXED.size + CHUNK_SIZE), 12), b))],
    ['run kind', corrupt((b) => (b.writeUInt8(7, 24), b))],
  ];
  // Two neighbouring zero runs [1][1] where [2] is canonical.
  const split = Buffer.alloc(24 + 10);
  split.write('FRMF', 0);
  split.writeUInt8(1, 4);
  split.writeUInt32BE(CHUNK_SIZE, 8);
  split.writeBigUInt64BE(BigInt(2 * CHUNK_SIZE), 12);
  split.writeUInt32BE(2, 20);
  split.writeUInt8(0, 24);
  split.writeUInt32BE(1, 25);
  split.writeUInt8(0, 29);
  split.writeUInt32BE(1, 30);
  cases.push(['non-canonical runs', split]);
  const emptyRun = Buffer.from(split.subarray(0, 29));
  emptyRun.writeUInt32BE(1, 20);
  emptyRun.writeUInt32BE(0, 25);
  cases.push(['empty run', emptyRun]);
  for (const [name, bytes] of cases) {
    assert.throws(() => parseManifest(bytes), InvalidManifestError, name);
    assert.throws(() => indexManifest(bytes), InvalidManifestError, `index: ${name}`);
  }
});

test('indexManifest finds every chunk as parseManifest lists it, without parsing', () => {
  const runs: Manifest = {
    chunkSize: CHUNK_SIZE,
    size: 1000 * CHUNK_SIZE - 3,
    // Runs of every length from 1 up, alternating digests and zeros, so the search crosses many runs.
    chunks: Array.from({ length: 1000 }, (_, i) =>
      Math.floor(Math.sqrt(2 * i)) % 2 === 0 ? digestOf(i) : null,
    ),
  };
  for (const manifest of [MIXED, runs, { chunkSize: 4, size: 9, chunks: [A, A, B] }] satisfies Manifest[]) {
    const index = indexManifest(serializeManifest(manifest));
    assert.equal(index.chunkSize, manifest.chunkSize);
    assert.equal(index.size, manifest.size);
    assert.equal(index.chunkCount, manifest.chunks.length);
    assert.deepEqual(
      Array.from({ length: index.chunkCount }, (_, i) => index.digestAt(i)),
      manifest.chunks,
    );
    for (const outside of [-1, manifest.chunks.length, 0.5]) {
      assert.throws(() => index.digestAt(outside), RangeError);
    }
  }
  const empty = indexManifest(serializeManifest({ chunkSize: CHUNK_SIZE, size: 0, chunks: [] }));
  assert.equal(empty.chunkCount, 0);
  assert.throws(() => empty.digestAt(0), RangeError);
});

test('an index keeps the serialised bytes and a small run table, not a string per chunk', () => {
  const n = 131072;
  const full: Manifest = {
    chunkSize: CHUNK_SIZE,
    size: n * CHUNK_SIZE,
    chunks: Array.from({ length: n }, (_, i) => digestOf(i)),
  };
  const bytes = serializeManifest(full);
  assert.equal(indexManifest(bytes).retainedBytes, bytes.length + 16);
});

test('chunkIndexRange maps an inclusive byte range to inclusive chunk indexes', () => {
  assert.deepEqual(chunkIndexRange(MIXED, 0, MIXED.size - 1), { first: 0, last: 6 });
  assert.deepEqual(chunkIndexRange(MIXED, CHUNK_SIZE - 1, CHUNK_SIZE), { first: 0, last: 1 });
  assert.deepEqual(chunkIndexRange(MIXED, 2 * CHUNK_SIZE, 3 * CHUNK_SIZE - 1), { first: 2, last: 2 });
  assert.deepEqual(chunkIndexRange(MIXED, MIXED.size - 1, MIXED.size - 1), { first: 6, last: 6 });
  for (const [start, end] of [
    [-1, 0],
    [5, 4],
    [0, MIXED.size],
    [0.5, 1],
  ]) {
    assert.throws(() => chunkIndexRange(MIXED, start as number, end as number), RangeError);
  }
});

test('chunkLength is chunkSize except for a short last chunk', () => {
  assert.equal(chunkLength(MIXED, 0), CHUNK_SIZE);
  assert.equal(chunkLength(MIXED, 6), 10);
});

test('distinctDigests lists each non-zero chunk once, in first-appearance order', () => {
  assert.deepEqual(distinctDigests(MIXED), [A, B]);
  assert.deepEqual(distinctDigests({ chunkSize: 1, size: 2, chunks: [null, null] }), []);
});
