/**
 * Micro-benchmark of the blob pipeline against a durable copy: ingest 1 GiB of random data into an fs
 * driver (fsync on), read it back, and compare with `cp` + `sync` of the same file. For tuning
 * `INGEST_WINDOW` and `READ_AHEAD_CHUNKS`; the API benchmark is bench/run.ts.
 *
 *   npx tsx bench/ingest.ts [MiB=1024] [runs=3]     (BENCH_SYNC=0 turns the driver's fsync off)
 *
 * Each run also prints how many cores other processes kept busy meanwhile: the dev VM is shared, and a
 * run with other work above ~0.2 cores is not worth comparing.
 * @module
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, open, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { createChunkStore } from '../src/blobs/chunk-store.js';
import { createFsBlobDriver } from '../src/blobs/drivers/fs.js';
import { INGEST_WINDOW, ingestImage } from '../src/blobs/ingest.js';
import { READ_AHEAD_CHUNKS, imagePieces, writePieces } from '../src/blobs/read.js';
import type { Manifest } from '../src/domain/manifest.js';

const MiB = 1024 * 1024;
const sizeMiB = Number(process.argv[2] ?? 1024);
const runs = Number(process.argv[3] ?? 3);
const sync = process.env.BENCH_SYNC !== '0';

interface Sample {
  /** MiB/s. */
  readonly rate: number;
  /** Cores other processes kept busy during the run. */
  readonly other: number;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

/** Busy and total jiffies of the whole machine, from /proc/stat. */
async function machineTicks(): Promise<{ busy: number; total: number }> {
  const line = (await readFile('/proc/stat', 'utf8')).split('\n')[0] ?? '';
  const fields = line.trim().split(/\s+/).slice(1).map(Number);
  const total = fields.reduce((a, b) => a + b, 0);
  return { busy: total - (fields[3] ?? 0) - (fields[4] ?? 0), total };
}

async function timed(run: () => Promise<void>): Promise<Sample> {
  const ticks = await machineTicks();
  const cpu = process.cpuUsage();
  const started = performance.now();
  await run();
  const seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  const after = await machineTicks();
  const busyCores =
    (os.availableParallelism() * (after.busy - ticks.busy)) / Math.max(1, after.total - ticks.total);
  const mine = (used.user + used.system) / 1e6 / seconds;
  return { rate: sizeMiB / seconds, other: Math.max(0, busyCores - mine) };
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
  block.writeUInt32BE(process.pid, 4);
  for (let chunk = 0; chunk < sizeMiB; chunk++) {
    block.writeUInt32BE(chunk, 0);
    for (let offset = 0; offset < MiB; offset += 64 * 1024) yield block.subarray(offset, offset + 64 * 1024);
  }
}

function discard(): Writable {
  return new Writable({
    highWaterMark: MiB,
    write(_chunk, _encoding, callback) {
      callback();
    },
  });
}

const dir = await mkdtemp(join(os.tmpdir(), 'ferry-bench-'));
try {
  const source = join(dir, 'source.bin');
  await writeRandomFile(source);
  const copies: Sample[] = [];
  const fileIngests: Sample[] = [];
  const memoryIngests: Sample[] = [];
  const reads: Sample[] = [];
  for (let run = 0; run < runs; run++) {
    const copy = join(dir, `copy-${run}.bin`);
    copies.push(await timed(async () => void execFileSync('sh', ['-c', `cp "${source}" "${copy}" && sync`])));
    await rm(copy);

    const root = join(dir, `store-${run}`);
    const store = createChunkStore({ driver: await createFsBlobDriver({ root, sync }) });
    let manifest: Manifest | undefined;
    fileIngests.push(
      await timed(async () => {
        ({ manifest } = await ingestImage(store, createReadStream(source, { highWaterMark: 256 * 1024 })));
      }),
    );
    memoryIngests.push(await timed(async () => void (await ingestImage(store, generated()))));
    const image = manifest as Manifest;
    reads.push(await timed(() => writePieces(discard(), store, imagePieces(image).pieces)));
    await rm(root, { recursive: true });
  }

  const rows: Array<[string, Sample[]]> = [
    ['cp + sync (other = cp)', copies],
    ['ingest (file stream)', fileIngests],
    ['ingest (in-memory source)', memoryIngests],
    ['read (to a discarding sink)', reads],
  ];
  const cp = median(copies.map((sample) => sample.rate));
  console.log(
    `${sizeMiB} MiB of random data, ${runs} runs; INGEST_WINDOW=${INGEST_WINDOW}, ` +
      `READ_AHEAD_CHUNKS=${READ_AHEAD_CHUNKS}, UV_THREADPOOL_SIZE=${process.env.UV_THREADPOOL_SIZE ?? 4}, ` +
      `fsync ${sync ? 'on' : 'off'}, chunks written and read with O_DIRECT where the disk allows it`,
  );
  console.log(`${'operation'.padEnd(28)}  median MiB/s  vs cp   each run: MiB/s (cores used by others)`);
  for (const [name, samples] of rows) {
    const m = median(samples.map((sample) => sample.rate));
    const each = samples.map((sample) => `${sample.rate.toFixed(0)} (${sample.other.toFixed(2)})`).join(', ');
    const share = `${((100 * m) / cp).toFixed(0)}%`;
    console.log(`${name.padEnd(28)}  ${m.toFixed(0).padStart(12)}  ${share.padStart(5)}   ${each}`);
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}
