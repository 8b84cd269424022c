/**
 * Micro-benchmark of the blob pipeline against a durable copy: ingest 1 GiB of random data into an fs
 * driver (fsync on), read it back, and compare with `cp` + `sync` of the same file. For tuning
 * `INGEST_WINDOW` and `READ_AHEAD_CHUNKS`; the API benchmark is bench/run.ts.
 *
 *   npx tsx bench/ingest.ts [MiB=1024] [runs=3]
 * @module
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, open, readFile, rm } from 'node:fs/promises';
import os, { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createChunkStore } from '../src/blobs/chunk-store.js';
import { createFsBlobDriver } from '../src/blobs/drivers/fs.js';
import { INGEST_WINDOW, ingestImage } from '../src/blobs/ingest.js';
import { READ_AHEAD_CHUNKS, createImageReadStream } from '../src/blobs/read.js';
import type { Manifest } from '../src/domain/manifest.js';

const MiB = 1024 * 1024;
const sizeMiB = Number(process.argv[2] ?? 1024);
const runs = Number(process.argv[3] ?? 3);

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

/** Busy and total jiffies of the whole machine, from /proc/stat. */
async function machineTicks(): Promise<{ busy: number; total: number }> {
  const fields =
    (await readFile('/proc/stat', 'utf8')).split('\n')[0]?.trim().split(/\s+/).slice(1).map(Number) ?? [];
  const total = fields.reduce((a, b) => a + b, 0);
  return { busy: total - (fields[3] ?? 0) - (fields[4] ?? 0), total };
}

/** Cores other processes kept busy during the runs (the dev VM is shared; > 0.2 means noisy numbers). */
let otherCores = 0;
let timedRuns = 0;

async function timed(run: () => Promise<void>): Promise<number> {
  const ticks = await machineTicks();
  const cpu = process.cpuUsage();
  const started = performance.now();
  await run();
  const seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  const after = await machineTicks();
  const cores = os.availableParallelism();
  const busyCores = (cores * (after.busy - ticks.busy)) / Math.max(1, after.total - ticks.total);
  // `cp` runs in a child process, so for that row "other" includes cp itself.
  otherCores += Math.max(0, busyCores - (used.user + used.system) / 1e6 / seconds);
  timedRuns++;
  return sizeMiB / seconds;
}

async function writeRandomFile(path: string): Promise<void> {
  const handle = await open(path, 'w');
  try {
    for (let written = 0; written < sizeMiB; written += 64) {
      await handle.write(randomBytes(Math.min(64, sizeMiB - written) * MiB));
    }
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** A 1 MiB random block, stamped per MiB so chunks differ, handed out in 64 KiB pieces (no file I/O). */
async function* generated(): AsyncGenerator<Buffer> {
  const block = randomBytes(MiB);
  for (let chunk = 0; chunk < sizeMiB; chunk++) {
    block.writeUInt32BE(chunk, 0);
    block.writeUInt32BE(process.pid, 4);
    for (let offset = 0; offset < MiB; offset += 64 * 1024) yield block.subarray(offset, offset + 64 * 1024);
  }
}

const discard = (): Writable =>
  new Writable({
    highWaterMark: MiB,
    write(_chunk, _encoding, callback) {
      callback();
    },
  });

const dir = await mkdtemp(join(tmpdir(), 'ferry-bench-'));
try {
  const source = join(dir, 'source.bin');
  await writeRandomFile(source);
  const rows: Array<[string, number[]]> = [
    ['cp + sync', []],
    ['ingest (file stream)', []],
    ['ingest (in-memory source)', []],
    ['read (to a discarding sink)', []],
  ];
  for (let run = 0; run < runs; run++) {
    const copy = join(dir, `copy-${run}.bin`);
    rows[0]?.[1].push(
      await timed(async () => void execFileSync('sh', ['-c', `cp "${source}" "${copy}" && sync`])),
    );
    await rm(copy);

    const driver = await createFsBlobDriver({
      root: join(dir, `store-${run}`),
      sync: process.env.BENCH_SYNC !== '0',
    });
    const store = createChunkStore({ driver });
    let manifest: Manifest | undefined;
    rows[1]?.[1].push(
      await timed(async () => {
        ({ manifest } = await ingestImage(store, createReadStream(source, { highWaterMark: 256 * 1024 })));
      }),
    );
    rows[2]?.[1].push(await timed(async () => void (await ingestImage(store, generated()))));
    const image = manifest as Manifest;
    rows[3]?.[1].push(await timed(() => pipeline(createImageReadStream(store, image), discard())));
    await rm(join(dir, `store-${run}`), { recursive: true });
  }
  const cp = median(rows[0]?.[1] ?? []);
  console.log(
    `${sizeMiB} MiB of random data, ${runs} runs, median (all runs); INGEST_WINDOW=${INGEST_WINDOW}, ` +
      `READ_AHEAD_CHUNKS=${READ_AHEAD_CHUNKS}, UV_THREADPOOL_SIZE=${process.env.UV_THREADPOOL_SIZE ?? 4}, ` +
      `fsync ${process.env.BENCH_SYNC === '0' ? 'off' : 'on'}; other processes used ` +
      `${(otherCores / timedRuns).toFixed(2)} cores on average (cp included)`,
  );
  for (const [name, values] of rows) {
    const m = median(values);
    console.log(
      `${name.padEnd(28)} ${m.toFixed(0).padStart(6)} MiB/s  ${((100 * m) / cp).toFixed(0).padStart(4)}% of cp` +
        `   (${values.map((v) => v.toFixed(0)).join(', ')})`,
    );
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}
