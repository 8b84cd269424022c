// What a replication run fetches, from the manifest and the chunks it must fetch: distinct chunks in
// manifest order, zero chunks never, batches of the configured size, and the bytes it skips as present.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Digest } from '../../../src/domain/ids.js';
import type { Manifest } from '../../../src/domain/manifest.js';
import { manifestChunks, planTransfer } from '../../../src/replication/transfer-plan.js';

const d = (n: number) => String(n).padStart(64, '0') as Digest;

// 10 chunks of 4 bytes, the last one 2 bytes: a, b, zero, a, c, zero, d, b, e, f(2 bytes).
const manifest: Manifest = {
  chunkSize: 4,
  size: 38,
  chunks: [d(1), d(2), null, d(1), d(3), null, d(4), d(2), d(5), d(6)],
};

test('a manifest gives each distinct chunk once, in first-seen order, with the image bytes it covers', () => {
  const chunks = manifestChunks(manifest);
  assert.equal(chunks.zeroBytes, 8);
  assert.deepEqual(
    [...chunks.chunks].map(([digest, value]) => [digest, value.length, value.imageBytes]),
    [
      [d(1), 4, 8],
      [d(2), 4, 8],
      [d(3), 4, 4],
      [d(4), 4, 4],
      [d(5), 4, 4],
      [d(6), 2, 2],
    ],
  );
});

test('the plan fetches only the needed chunks, in batches, and counts the rest as present', () => {
  const chunks = manifestChunks(manifest);
  const plan = planTransfer(chunks, new Set([d(6), d(2), d(4), d(5)]), 3);
  assert.deepEqual(plan.batches, [[d(2), d(4), d(5)], [d(6)]]);
  assert.equal(plan.presentBytes, 8 + 4, 'a (twice) and c are here');

  const nothing = planTransfer(chunks, new Set(), 3);
  assert.deepEqual(nothing.batches, []);
  assert.equal(nothing.presentBytes, 38 - 8, 'everything but the zeros');

  const everything = planTransfer(chunks, new Set(chunks.chunks.keys()), 64);
  assert.deepEqual(everything.batches, [[d(1), d(2), d(3), d(4), d(5), d(6)]]);
  assert.equal(everything.presentBytes, 0);
});
