/**
 * Cross-region replication benchmark (part of `npm run bench`; `--only replicate` for this part alone).
 *
 * Two regions, north-1 and south-1, run as separate `ferry serve` processes on loopback (a catalog with a
 * credential per region (its hash in the catalog), default deployment settings, identity provisioned into each region's SQLite
 * before start, as in test/helpers/region-processes.ts). Then:
 *
 * 1. upload the generated image to north-1 (timed, checked);
 * 2. replicate it to south-1: from the `POST /v1/cloudimages/{id}/cross_region_copy` until the job reads
 *    SUCCESS (polled every 100 ms in north-1); peak RSS (VmHWM, reset before the POST) and CPU of both
 *    processes; the replica's `checksum` must be the source's MD5. `--runs` times, each after a baseline
 *    run, into an emptied south-1 (the replica deleted and its chunks collected in between); the median run
 *    is reported;
 * 3. a second image, the first with a few bytes changed in 5% of its 1 MiB blocks (evenly spread; untimed to
 *    make), uploaded to north-1 and replicated: only the changed chunks should cross (`bytes_transferred`);
 * 4. print a markdown table and the acceptance targets (replication ≥ 50% of the durable cp's throughput,
 *    peak RSS < 250 MiB in each process).
 *
 * Both processes and the regions' data go away on every path.
 * @module
 */
import { mkdir } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import type { DeploymentSettings } from '../src/config/settings.js';
import { CHANGED_BYTES, CHANGED_FRACTION, CHUNK_SIZE, writeChangedCopy } from './images.js';
import {
  benchCpuSeconds,
  checkFreeSpace,
  checkImage,
  createImage,
  flushDirtyPages,
  fmt,
  formatRss,
  GiB,
  cpuSnapshot,
  otherCpu,
  machineLine,
  markdownTable,
  metOrNot,
  MiB,
  procCpuSeconds,
  procStatusKiB,
  removeOnCleanup,
  seconds,
  ThreadCpuMonitor,
  uploadFile,
  type BenchContext,
  type PeakRss,
  BASELINE_RUNS,
  formatRuns,
  medianRun,
  runLines,
} from './lib.js';
import {
  collectGarbage,
  deleteImage,
  DEST,
  replicateAndWait,
  SOURCE,
  startRegions,
  stopRegions,
  type Region,
} from './regions.js';
import { warmFreeMemory } from './warm-memory.js';

/** Acceptance targets: throughput as a fraction of the durable cp's, and peak RSS of each process. */
const REPLICATION_TARGET = 0.5;
const RSS_TARGET_MIB = 250;

/** Disk space the replication bench needs at its peak: source + second image + both regions' chunks. */
export function replicationSpaceNeeded(size: number): number {
  return (4 + 2 * CHANGED_FRACTION) * size + 256 * MiB;
}

interface Usage {
  readonly rss: Partial<Record<string, PeakRss>>;
  /** CPU seconds of each region process, of the bench process, and of everything else on the machine. */
  readonly cpu: Partial<Record<string, number>>;
  readonly benchCpu: number;
  /** Per-thread CPU of each region process (see ThreadCpuMonitor). */
  readonly threads: Partial<Record<string, string>>;
  /** Where the rest of the machine's CPU time went (see `otherCpu`). */
  readonly rest: string;
}

interface Row {
  readonly step: string;
  /** The median run's (the only run's, for a step run once). */
  readonly seconds: number;
  /** Every run's seconds, for a repeated step. */
  readonly runs?: number[];
  /** The baseline run's seconds just before each run. */
  readonly cpBefore?: number[];
  /** Image bytes per second of this step (logical bytes for a replication that skips chunks). */
  readonly bytes: number;
  readonly usage: Usage;
  /** The job's view at its end, for a replication. */
  readonly job?: Record<string, unknown>;
}

// ---------------------------------------------------------------------------------------------------------
// Two region processes (bench/regions.ts), with the default deployment settings

function startDefaultRegions(ctx: BenchContext, dataDir: string): Promise<Region[]> {
  const settings: DeploymentSettings = {}; // the defaults a deployment runs with
  return startRegions({ dataDir, settings, cleanup: ctx.cleanup, profileDir: ctx.profileDir });
}

/** Runs `body` and measures the peak RSS and CPU of every region process, of the bench, and of the rest. */
async function measured(
  regions: Region[],
  body: () => Promise<void>,
  warmBytes: number,
): Promise<{ seconds: number; usage: Usage }> {
  await warmFreeMemory(warmBytes);
  for (const region of regions) await region.rss.reset();
  const cpuBefore = await Promise.all(regions.map((region) => procCpuSeconds(region.process.pid)));
  const benchBefore = benchCpuSeconds();
  const machineBefore = await cpuSnapshot();
  const monitors = regions.map((region) => new ThreadCpuMonitor(region.process.pid));
  for (const monitor of monitors) await monitor.begin();
  const started = performance.now();
  await body();
  const elapsed = seconds(started);
  const threads: Record<string, string> = {};
  for (const [i, region] of regions.entries()) threads[region.name] = await monitors[i]!.end();
  const machineAfter = await cpuSnapshot();
  const benchCpu = benchCpuSeconds() - benchBefore;
  const rss: Record<string, PeakRss> = {};
  const cpu: Record<string, number> = {};
  for (const [i, region] of regions.entries()) {
    rss[region.name] = await region.rss.peak();
    cpu[region.name] = (await procCpuSeconds(region.process.pid)) - cpuBefore[i]!;
  }
  const ours = new Set([process.pid, ...regions.map((region) => region.process.pid)]);
  return {
    seconds: elapsed,
    usage: { rss, cpu, benchCpu, threads, rest: otherCpu(machineBefore, machineAfter, ours) },
  };
}

// ---------------------------------------------------------------------------------------------------------
// Steps

async function upload(regions: Region[], file: string, size: number, md5: string, name: string) {
  const north = regions[0]!;
  const id = await createImage(north.endpoint, name);
  const { seconds, usage } = await measured(regions, () => uploadFile(north.endpoint, id, file), size);
  await checkImage(north.endpoint, id, size, md5);
  console.log(
    `  ${name}: ${id} in ${SOURCE}, ${fmt(seconds, 2)} s, verified (active, size ${size}, md5 ${md5})`,
  );
  return { id, seconds, usage };
}

/** POST cross_region_copy, then poll the job in the source until it ends (timed). */
async function replicate(regions: Region[], imageId: string, size: number) {
  let result = { job: {} as Record<string, unknown>, replicaId: '' };
  const { seconds, usage } = await measured(
    regions,
    async () => {
      result = await replicateAndWait(regions, imageId);
    },
    size,
  );
  return { seconds, usage, ...result };
}

/** Deletes the replica and collects its chunks at once, so the next run sends every chunk again. */
async function emptyDestination(dest: Region, replicaId: string, size: number): Promise<void> {
  await deleteImage(dest, replicaId);
  const gc = await collectGarbage(dest);
  const collected = Number(gc.chunksDeleted);
  if (collected < size / CHUNK_SIZE) {
    throw new Error(`garbage collection in ${dest.name} collected too little: ${JSON.stringify(gc)}`);
  }
  console.log(`  replica deleted, ${collected} chunks collected in ${dest.name}`);
}

// ---------------------------------------------------------------------------------------------------------
// The bench

export async function benchReplication(ctx: BenchContext): Promise<void> {
  const { size, md5 } = ctx;
  await checkFreeSpace(ctx.scratch, replicationSpaceNeeded(size) - size, 'the replication bench');
  const dataDir = join(ctx.scratch, 'regions');
  await mkdir(dataDir);
  const removeData = removeOnCleanup(ctx.cleanup, dataDir);
  const regions = await startDefaultRegions(ctx, dataDir);
  const rows: Row[] = [];
  try {
    const idle = await Promise.all(
      regions.map(async (r) => (await procStatusKiB(r.process.pid, 'VmRSS')) / 1024),
    );
    console.log(
      `Regions: ${regions.map((r, i) => `${r.name} pid ${r.process.pid} at ${r.endpoint.url}, idle VmRSS ${fmt(idle[i]!, 0)} MiB`).join('; ')}`,
    );

    console.log(`Upload of image 1 to ${SOURCE}...`);
    const first = await upload(regions, ctx.source, size, md5, 'bench-1');
    rows.push({
      step: `upload image 1 to ${SOURCE} (PUT)`,
      seconds: first.seconds,
      bytes: size,
      usage: first.usage,
    });
    await flushDirtyPages();

    // Repeated, each run after a baseline run, from an empty destination: the replica of the run before
    // is deleted and its chunks collected (grace 0) first. The median run is reported.
    const fullRuns: Row[] = [];
    const cpBefore: number[] = [];
    for (let i = 1; i <= ctx.runs; i++) {
      console.log(`Replication of image 1 to ${DEST}, run ${i} of ${ctx.runs}...`);
      cpBefore.push(await ctx.baseline.measure());
      const copy = await replicate(regions, first.id, size);
      await checkImage(regions[1]!.endpoint, copy.replicaId, size, md5);
      console.log(
        `  ${fmt(copy.seconds, 2)} s; replica ${copy.replicaId} verified: active, size ${size}, checksum ${md5}`,
      );
      fullRuns.push({
        step: `replicate image 1 ${SOURCE} → ${DEST} (POST → SUCCESS)`,
        seconds: copy.seconds,
        bytes: size,
        usage: copy.usage,
        job: copy.job,
      });
      if (i < ctx.runs) await emptyDestination(regions[1]!, copy.replicaId, size);
      await flushDirtyPages();
    }
    rows.push({ ...medianRun(fullRuns), cpBefore });

    console.log(
      `Making image 2: image 1 with ${CHANGED_BYTES} bytes changed in ${fmt(CHANGED_FRACTION * 100, 0)}% of its 1 MiB blocks (untimed)...`,
    );
    const secondFile = join(ctx.scratch, 'changed.raw');
    const removeSecond = removeOnCleanup(ctx.cleanup, secondFile);
    const changed = await writeChangedCopy(ctx.source, secondFile, size);
    console.log(`  ${changed.changed.length} blocks changed, md5 ${changed.md5}`);
    await flushDirtyPages();

    console.log(`Upload of image 2 to ${SOURCE}...`);
    const second = await upload(regions, secondFile, size, changed.md5, 'bench-2');
    rows.push({
      step: `upload image 2 (${fmt(CHANGED_FRACTION * 100, 0)}% of blocks changed) to ${SOURCE}`,
      seconds: second.seconds,
      bytes: size,
      usage: second.usage,
    });
    await removeSecond();
    await flushDirtyPages();

    console.log(`Replication of image 2 to ${DEST}...`);
    const copy2 = await replicate(regions, second.id, size);
    await checkImage(regions[1]!.endpoint, copy2.replicaId, size, changed.md5);
    console.log(
      `  ${fmt(copy2.seconds, 2)} s; replica ${copy2.replicaId} verified: active, size ${size}, checksum ${changed.md5}`,
    );
    rows.push({
      step: `replicate image 2 ${SOURCE} → ${DEST} (only changed chunks)`,
      seconds: copy2.seconds,
      bytes: size,
      usage: copy2.usage,
      job: copy2.job,
    });
    const expectedDelta = changed.changed.length * CHUNK_SIZE;

    printReplicationReport(ctx, rows, await machineLine(ctx.scratch), idle, expectedDelta);
  } finally {
    await stopRegions(regions);
    await removeData();
  }
}

function printReplicationReport(
  ctx: BenchContext,
  rows: Row[],
  machine: string,
  idleMiB: number[],
  expectedDelta: number,
): void {
  const { size, baseline } = ctx;
  const cpRate = size / MiB / baseline.seconds;
  const rate = (row: { bytes: number; seconds: number }) => row.bytes / MiB / row.seconds;
  const sent = (row: Row) => {
    const bytes = row.job?.bytes_transferred;
    return typeof bytes === 'number' ? `${fmt(bytes / MiB, 1)} MiB (${bytes} B)` : 'n/a';
  };
  const table = markdownTable(
    [
      'step',
      'seconds',
      'MiB/s',
      'ratio to durable cp',
      `peak RSS ${SOURCE} (MiB)`,
      `peak RSS ${DEST} (MiB)`,
      'bytes sent',
    ],
    ['l', 'r', 'r', 'r', 'l', 'l', 'r'],
    [
      [
        `durable cp + sync (median of ${baseline.runs.length} runs)`,
        fmt(baseline.seconds, 2),
        fmt(cpRate, 0),
        '1.00',
        'n/a',
        'n/a',
        'n/a',
      ],
      ...rows.map((row) => [
        row.step,
        fmt(row.seconds, 2),
        fmt(rate(row), 0),
        fmt(rate(row) / cpRate, 2),
        formatRss(row.usage.rss[SOURCE]),
        formatRss(row.usage.rss[DEST]),
        sent(row),
      ]),
    ],
  );
  const full = rows[1]!;
  const delta = rows[3]!;
  const ratio = rate(full) / cpRate;
  const replications = [full, delta];
  const peak = (region: string) =>
    Math.max(...replications.map((row) => row.usage.rss[region]?.hwmMiB ?? Infinity));
  const peakSampled = (region: string) =>
    Math.max(...replications.map((row) => row.usage.rss[region]?.sampledMiB ?? Infinity));
  const rssOk = (region: string) => Math.max(peak(region), peakSampled(region)) < RSS_TARGET_MIB;
  const deltaSent = Number(delta.job?.bytes_transferred);
  const cores = os.availableParallelism();
  const lines = [
    '',
    `## Replication ${SOURCE} → ${DEST}: ${fmt(size / GiB, 2)} GiB of random data, ${new Date().toISOString()}`,
    '',
    ...table,
    '',
    machine,
    `Durable cp + sync runs: ${formatRuns(baseline.runs)}, the first ${BASELINE_RUNS} before the upload, one ` +
      `before each replication run of image 1. MiB/s of the image-2 rows is the image's size over the time ` +
      `(most of its chunks were already there).`,
    ...runLines(rows),
    '',
    `Targets: replication ≥ ${REPLICATION_TARGET * 100}% of durable cp: ${metOrNot(ratio >= REPLICATION_TARGET)} ` +
      `(${fmt(ratio * 100, 0)}%, ${fmt(rate(full), 0)} MiB/s of ${fmt(cpRate, 0)}); ` +
      `peak RSS < ${RSS_TARGET_MIB} MiB per process during the replications: ` +
      `${SOURCE} ${metOrNot(rssOk(SOURCE))} (${fmt(peak(SOURCE), 0)} VmHWM, ${fmt(peakSampled(SOURCE), 0)} sampled), ` +
      `${DEST} ${metOrNot(rssOk(DEST))} (${fmt(peak(DEST), 0)} VmHWM, ${fmt(peakSampled(DEST), 0)} sampled)`,
    `Image 2: ${fmt(deltaSent / MiB, 1)} MiB sent for ${fmt(expectedDelta / MiB, 0)} MiB of changed blocks ` +
      `(${deltaSent === expectedDelta ? 'exactly the changed chunks' : 'NOT just the changed chunks'}); ` +
      `skipped as present ${fmt(Number(delta.job?.bytes_skipped_present) / MiB, 1)} MiB, ` +
      `as zero ${fmt(Number(delta.job?.bytes_skipped_zero) / MiB, 1)} MiB.`,
    `Replicas verified: each replica in ${DEST} is active with its source's size and MD5 checksum.`,
    '',
    'CPU seconds used during each step (user + system, all threads):',
  ];
  for (const row of rows) {
    const u = row.usage;
    lines.push(
      `  ${row.step.padEnd(52)} ${SOURCE} ${fmt(u.cpu[SOURCE] ?? 0, 2)} s, ${DEST} ${fmt(u.cpu[DEST] ?? 0, 2)} s, ` +
        `bench ${fmt(u.benchCpu, 2)} s, rest of the machine: ${u.rest} ` +
        `(wall ${fmt(row.seconds, 2)} s × ${cores} cores = ${fmt(row.seconds * cores, 2)} core-s)`,
    );
    for (const name of [SOURCE, DEST])
      lines.push(`  ${''.padEnd(52)} ${name} threads: ${u.threads[name] ?? 'n/a'}`);
  }
  lines.push(
    '',
    `Idle VmRSS before the first upload: ${regions(idleMiB)}. Default replication settings ` +
      '(DEFAULT_REPLICATION_SETTINGS in src/config/replication.ts); fs driver with fsync on, chunks written ' +
      'and read with O_DIRECT (not through the page cache).',
  );
  console.log(lines.join('\n'));
}

function regions(idleMiB: number[]): string {
  return `${SOURCE} ${fmt(idleMiB[0] ?? 0, 0)} MiB, ${DEST} ${fmt(idleMiB[1] ?? 0, 0)} MiB`;
}
