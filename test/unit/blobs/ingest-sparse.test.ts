// Ingest runs in constant memory: an 8 GiB mostly-zero stream stores only its 64 MiB of data while the
// process stays under 200 MiB RSS, and no piece of the source outlives its copy into the ring. A file of
// its own so the RSS measured is these tests' alone.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { createChunkStore } from '../../../src/blobs/chunk-store.js';
import { createFsBlobDriver } from '../../../src/blobs/drivers/fs.js';
import { ingestImage } from '../../../src/blobs/ingest.js';
import { CHUNKS_PREFIX } from '../../../src/blobs/layout.js';
import { CHUNK_SIZE } from '../../../src/domain/manifest.js';
import { makeTempDir } from '../../helpers/tmp.js';

const MiB = CHUNK_SIZE;
const TOTAL_CHUNKS = 8192; // 8 GiB
const DATA_EVERY = 128; // 64 chunks of random data, spread evenly
const PIECE = 256 * 1024; // what an HTTP body tends to deliver, give or take
const RSS_LIMIT = 200 * MiB;

/**
 * 8 GiB: zero pieces (one shared buffer), with a random MiB every DATA_EVERY MiB. The random MiB is one
 * buffer stamped with the chunk number, so the chunks differ without the generator itself leaving 64 MiB of
 * garbage for a lazy GC (which would be counted in the RSS).
 */
async function* sparseImage(): AsyncGenerator<Buffer> {
  const zero = Buffer.alloc(PIECE);
  const data = randomBytes(MiB);
  for (let chunk = 0; chunk < TOTAL_CHUNKS; chunk++) {
    if (chunk % DATA_EVERY === DATA_EVERY / 2) {
      data.writeUInt32BE(chunk, 0); // safe: ingest copies each piece before asking for the next
      for (let offset = 0; offset < MiB; offset += PIECE) yield data.subarray(offset, offset + PIECE);
    } else {
      for (let offset = 0; offset < MiB; offset += PIECE) yield zero;
    }
  }
}

async function peakRss(): Promise<number> {
  const status = await readFile('/proc/self/status', 'utf8');
  const match = /^VmHWM:\s+(\d+) kB$/m.exec(status);
  return match === null ? process.memoryUsage().rss : Number(match[1]) * 1024;
}

test('an 8 GiB sparse stream stores 64 MiB in under 200 MiB of RSS', { timeout: 120_000 }, async (t) => {
  const driver = await createFsBlobDriver({ root: await makeTempDir(t) });
  const store = createChunkStore({ driver });
  let sampledPeak = 0;
  const sampler = setInterval(() => (sampledPeak = Math.max(sampledPeak, process.memoryUsage().rss)), 50);
  const started = performance.now();
  try {
    const result = await ingestImage(store, sparseImage());
    const seconds = (performance.now() - started) / 1000;
    t.diagnostic(`8 GiB in ${seconds.toFixed(1)} s (${(8192 / seconds).toFixed(0)} MiB/s)`);
    assert.equal(result.size, TOTAL_CHUNKS * MiB);
    assert.equal(result.bytesWritten, 64 * MiB);
    assert.equal(result.bytesZero, (TOTAL_CHUNKS - 64) * MiB);
    assert.equal(result.manifest.chunks.filter((c) => c !== null).length, 64);
  } finally {
    clearInterval(sampler);
  }
  let objects = 0;
  for await (const key of driver.list(CHUNKS_PREFIX)) if (key) objects++;
  assert.equal(objects, 64);
  const peak = Math.max(sampledPeak, await peakRss());
  t.diagnostic(`peak RSS ${(peak / MiB).toFixed(0)} MiB`);
  assert.ok(peak < RSS_LIMIT, `peak RSS ${(peak / MiB).toFixed(0)} MiB`);
});

test('pieces are not retained: 1 GiB of fresh 256 KiB pieces ingests in well under 1 GiB of RSS', async (t) => {
  // Regression: a Promise.race per read against a long-lived promise kept every piece reachable. The bound
  // is looser than RSS_LIMIT because the pieces are garbage V8 collects lazily (~190 MiB peak seen here);
  // a leak would show as over 1 GiB.
  const driver = await createFsBlobDriver({ root: await makeTempDir(t) });
  async function* freshPieces(): AsyncGenerator<Buffer> {
    for (let i = 0; i < 4096; i++) yield Buffer.allocUnsafeSlow(PIECE).fill(0x5a); // touched, so it counts in RSS
  }
  let peak = 0;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
  try {
    const result = await ingestImage(createChunkStore({ driver }), freshPieces());
    assert.equal(result.size, 1024 * MiB);
    assert.equal(result.bytesWritten, MiB); // every chunk is the same
  } finally {
    clearInterval(sampler);
  }
  t.diagnostic(`peak RSS ${(peak / MiB).toFixed(0)} MiB`);
  assert.ok(peak < 512 * MiB, `peak RSS ${(peak / MiB).toFixed(0)} MiB`);
});
