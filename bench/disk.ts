/**
 * What the disk itself allows (part of `npm run bench`; `--only disk` for this part alone): the fs blob
 * driver storing and reading the generated image as 1 MiB chunks, with no HTTP, no hashing and no database,
 * beside the durable `cp`. It shows the floor under the API benchmarks: an upload cannot store its chunks
 * faster than "store", and a replication on one disk reads every chunk at the source while the destination
 * stores it, so it cannot beat "store while reading" (the cp baseline reads its source from the page cache
 * and only writes).
 *
 * Steps (each `--runs` times, after a baseline run; the median is reported):
 * - store: `put` every chunk (fsync on, as a region runs), 16 in flight (a replication's 8 batches × 2);
 * - read: `read` every chunk back, 16 in flight;
 * - store while reading: a second copy of the chunks under other keys stored while the first set is read.
 * @module
 */
import { join } from 'node:path';
import { open } from 'node:fs/promises';
import { createFsBlobDriver } from '../src/blobs/drivers/fs.js';
import type { BlobDriver } from '../src/blobs/driver.js';
import {
  MiB,
  flushDirtyPages,
  fmt,
  formatRuns,
  markdownTable,
  median,
  removeOnCleanup,
  seconds,
  type BenchContext,
} from './lib.js';
import { warmFreeMemory } from './warm-memory.js';

const CHUNK = MiB;
/** Puts or reads in flight, as a replication destination has (8 batch requests × 2 chunk buffers). */
const IN_FLIGHT = 16;

/** Runs `work(index)` for every chunk index, IN_FLIGHT at a time. */
async function eachChunk(count: number, work: (index: number, lane: number) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async (id: number) => {
    while (next < count) await work(next++, id);
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, (_, id) => lane(id)));
}

/** Stores every chunk of `source` under `prefix`, reading each from the file into a lane's aligned buffer. */
async function storeChunks(driver: BlobDriver, source: string, count: number, prefix: string): Promise<void> {
  const buffers = await driver.allocate(IN_FLIGHT, CHUNK);
  const file = await open(source, 'r'); // in the page cache, as the cp's source is
  try {
    await eachChunk(count, async (index, lane) => {
      const buffer = buffers[lane]!;
      const { bytesRead } = await file.read(buffer, 0, CHUNK, index * CHUNK);
      await driver.put(`${prefix}/${index}`, buffer.subarray(0, bytesRead));
    });
  } finally {
    await file.close();
  }
}

async function readChunks(driver: BlobDriver, count: number, prefix: string): Promise<void> {
  await eachChunk(count, async (index) => {
    await driver.read(`${prefix}/${index}`, async (data) => {
      if (data.length === 0) throw new Error(`chunk ${index} is empty`);
    });
  });
}

async function deleteChunks(driver: BlobDriver, count: number, prefix: string): Promise<void> {
  await eachChunk(count, (index) => driver.delete(`${prefix}/${index}`));
}

export async function benchDisk(ctx: BenchContext): Promise<void> {
  const { size } = ctx;
  const count = Math.ceil(size / CHUNK);
  const root = join(ctx.scratch, 'disk-bench');
  const removeRoot = removeOnCleanup(ctx.cleanup, root);
  const driver = await createFsBlobDriver({ root });
  const runs: Record<string, number[]> = { store: [], read: [], 'store while reading': [] };
  const timed = async (name: string, body: () => Promise<void>) => {
    await ctx.baseline.measure();
    await warmFreeMemory(size);
    const started = performance.now();
    await body();
    runs[name]!.push(seconds(started));
    await flushDirtyPages();
  };
  try {
    for (let i = 1; i <= ctx.runs; i++) {
      console.log(`Disk: run ${i} of ${ctx.runs}...`);
      await timed('store', () => storeChunks(driver, ctx.source, count, 'v1/a'));
      await timed('read', () => readChunks(driver, count, 'v1/a'));
      await timed('store while reading', async () => {
        await Promise.all([
          readChunks(driver, count, 'v1/a'),
          storeChunks(driver, ctx.source, count, 'v1/b'),
        ]);
      });
      await deleteChunks(driver, count, 'v1/a');
      await deleteChunks(driver, count, 'v1/b');
    }
  } finally {
    await removeRoot();
  }

  const cp = ctx.baseline.seconds;
  const rate = (secs: number) => size / MiB / secs;
  const rows = [
    [`durable cp + sync (median of ${ctx.baseline.runs.length} runs)`, cp],
    ...Object.entries(runs).map(([name, times]) => [`fs driver: ${name}`, median(times)] as const),
  ] as const;
  console.log(
    [
      '',
      `## The disk under Ferry: ${fmt(size / 2 ** 30, 2)} GiB as ${count} chunks of 1 MiB, ${new Date().toISOString()}`,
      '',
      ...markdownTable(
        ['step', 'seconds', 'MiB/s', 'ratio to durable cp'],
        ['l', 'r', 'r', 'r'],
        rows.map(([name, secs]) => [name, fmt(secs, 2), fmt(rate(secs), 0), fmt(cp / secs, 2)]),
      ),
      '',
      `Durable cp + sync runs: ${formatRuns(ctx.baseline.runs)}.`,
      ...Object.entries(runs).map(([name, times]) => `Runs of "${name}": ${formatRuns(times)}.`),
      `${IN_FLIGHT} chunks in flight; puts with fsync, written and read with O_DIRECT; no HTTP, hashing or ` +
        'database. "store while reading" stores a second copy while the first is read: what a replication ' +
        'between two regions on one disk asks of it.',
    ].join('\n'),
  );
}
