// The storage layout: digest → key and back, and nothing else parses as a key.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assertValidKey } from '../../../src/blobs/driver.js';
import {
  CHUNKS_PREFIX,
  MANIFESTS_PREFIX,
  chunkKey,
  manifestKey,
  parseChunkKey,
  parseKey,
  parseManifestKey,
} from '../../../src/blobs/layout.js';
import type { Digest } from '../../../src/domain/ids.js';

const DIGEST = ('ab' + 'cd'.repeat(31)) as Digest;

test('keys are versioned and sharded by the first two hex characters', () => {
  assert.equal(chunkKey(DIGEST), `v1/chunks/ab/${DIGEST}`);
  assert.equal(manifestKey(DIGEST), `v1/manifests/ab/${DIGEST}`);
  assert.ok(chunkKey(DIGEST).startsWith(CHUNKS_PREFIX));
  assert.ok(manifestKey(DIGEST).startsWith(MANIFESTS_PREFIX));
  assertValidKey(chunkKey(DIGEST));
  assertValidKey(manifestKey(DIGEST));
});

test('keys parse back to their kind and digest', () => {
  assert.deepEqual(parseKey(chunkKey(DIGEST)), { kind: 'chunk', digest: DIGEST });
  assert.deepEqual(parseKey(manifestKey(DIGEST)), { kind: 'manifest', digest: DIGEST });
  assert.equal(parseChunkKey(chunkKey(DIGEST)), DIGEST);
  assert.equal(parseChunkKey(manifestKey(DIGEST)), undefined);
  assert.equal(parseManifestKey(manifestKey(DIGEST)), DIGEST);
});

test('keys the layout did not make do not parse', () => {
  for (const key of [
    `v1/chunks/cd/${DIGEST}`, // wrong shard
    `v1/chunks/AB/${DIGEST.toUpperCase()}`,
    `v2/chunks/ab/${DIGEST}`,
    `v1/blobs/ab/${DIGEST}`,
    `v1/chunks/ab/${DIGEST}x`,
    `v1/chunks/ab/${DIGEST.slice(1)}`,
    'v1/chunks/ab',
    '',
  ]) {
    assert.equal(parseKey(key), undefined, key);
  }
});

test('a non-digest is refused', () => {
  assert.throws(() => chunkKey('../../etc/passwd' as Digest), TypeError);
  assert.throws(() => manifestKey(DIGEST.toUpperCase() as Digest), TypeError);
});
