/**
 * The bench of issue 16's targets (the default part of `npm run bench`): Ferry beside Glance and beside two
 * durable copies of the same bytes, every row run `--runs` times in interleaved rounds, so that the disk's
 * drift over minutes (a `cp` of 2 GiB takes 1.5 s or 4.5 s within the same quarter hour on the dev VM) moves
 * every row alike and each verdict compares medians of the same minutes.
 *
 * Set-up (untimed): the changed copy of the source (5% of its chunks changed) and a sparse image (4 × the
 * size, 1/32 of the size in random chunks: 8 GiB with 64 MiB at the default 2 GiB); two Glance APIs (unless
 * `--no-glance`; "unavailable" rows when glance-api cannot be installed); a pair of Ferry region processes
 * per injected flush latency D (0 and 10 ms; D > 0 through the settings file's `storage.flushDelayMs`),
 * each started by the bench with `ferry serve`; the sparse image uploaded once to the D = 0 pair's source.
 *
 * Each round runs these blocks, in an order rotated by one block per round (so no row always follows the
 * same other), each timed step after memory is warmed and dirty pages flushed:
 * - durable `cp` + `sync`, source cached; the same with the source evicted from the page cache;
 * - Glance: upload (`curl -T`) to A; A→B by `curl A | curl -T - B`; both checked (MD5) and deleted;
 * - per Ferry pair: upload (`curl -T`) to north-1 of the image, new to both regions (the previous round's
 *   images were deleted and their chunks collected); its replication to south-1 (POST → job SUCCESS); at
 *   D = 0 also the changed copy (uploaded untimed) and the sparse image replicated; replicas checked (MD5),
 *   then every image of the round deleted and both regions' garbage collected.
 *
 * Per step: seconds; CPU (utime + stime from /proc/<pid>/stat, before and after) of every process of the
 * side measured (both Ferry regions, or both Glance APIs with their workers); peak RSS of each Ferry region
 * (VmHWM reset per step, and VmRSS sampled every 100 ms); for replications, the job's bytes_transferred.
 * Then rows (median, min, max) and a verdict per target (bench/verdicts.ts).
 * @module
 */
import { join } from 'node:path';
import {
  checkGlanceImage,
  createGlanceImage,
  deleteGlanceImage,
  glanceCopy,
  glanceUnavailable,
  glanceUpload,
  startGlances,
  type GlanceApi,
} from './glance.js';
import { CHUNK_SIZE, writeChangedCopy, writeSparseFile } from './images.js';
import {
  checkFreeSpace,
  checkImage,
  createImage,
  DurableCopyBaseline,
  flushDirtyPages,
  fmt,
  GiB,
  machineLine,
  median,
  MiB,
  procCpuSeconds,
  removeOnCleanup,
  REPO_ROOT,
  RssMonitor,
  run,
  seconds,
  uploadFile,
  type BenchContext,
} from './lib.js';
import {
  collectGarbage,
  deleteImage,
  listJobs,
  loopDelayWindow,
  replicateAndWait,
  scrubStore,
  startRegions,
  stopRegions,
  type Region,
} from './regions.js';
import {
  BOTH_GLANCES,
  BOTH_REGIONS,
  IDLE_PROCESS,
  spread,
  type BenchResult,
  type BenchRow,
  type LoopDelayRow,
  type RowId,
} from './results.js';
import { startLoopBaseline } from './loop-baseline.js';
import { computeVerdicts } from './verdicts.js';
import { warmFreeMemory } from './warm-memory.js';

/** The injected flush latencies (ms per durability barrier) Ferry's upload and replication rows run at. */
export const FLUSH_DELAYS_MS = [0, 10] as const;
/** The sparse image: this many times the image size, and this share of the size in random chunks. */
const SPARSE_SIZE_FACTOR = 4;
const SPARSE_DATA_SHARE = 1 / 32;

/** "commit 1aebcfb, 3 files changed and not committed", or why it is not known. */
async function buildLine(): Promise<string> {
  try {
    const commit = (await run('git', ['rev-parse', '--short', 'HEAD'], { cwd: REPO_ROOT })).stdout.trim();
    const changed = (await run('git', ['status', '--porcelain'], { cwd: REPO_ROOT })).stdout
      .split('\n')
      .filter((line) => line.trim() !== '').length;
    return `commit ${commit}${changed === 0 ? '' : `, ${changed} files changed and not committed`}`;
  } catch {
    return 'unknown (not a git checkout)';
  }
}

export interface TargetsOptions {
  readonly glance: boolean;
}

/** Disk space at the peak: source, changed copy, cp copy, Glance A and B, two Ferry pairs' images. */
export function targetsSpaceNeeded(size: number): number {
  return 9.5 * size + 512 * MiB;
}

/** One timed step's figures. */
interface Sample {
  readonly seconds: number;
  /** CPU seconds of each measured process over the step. */
  readonly cpu: Record<string, number>;
  /** Peak RSS of each Ferry region process over the step, in MiB. */
  readonly rssMiB: Record<string, number>;
  readonly bytesSent?: number;
}

/** A process measured during a step: its pids (a Glance API and its worker) and, for Ferry, its RSS. */
interface Measured {
  readonly name: string;
  readonly pids: readonly number[];
  readonly rss?: RssMonitor;
}

async function cpuOf(measured: readonly Measured[]): Promise<number[]> {
  return Promise.all(
    measured.map(async ({ pids }) => {
      let sum = 0;
      for (const pid of pids) sum += await procCpuSeconds(pid).catch(() => 0);
      return sum;
    }),
  );
}

/** Warms memory, flushes dirty pages, then times `body` and measures `measured` over it. */
async function measureStep(
  measured: readonly Measured[],
  warmBytes: number,
  body: () => Promise<number | void>,
): Promise<Sample> {
  await flushDirtyPages();
  await warmFreeMemory(warmBytes);
  for (const m of measured) await m.rss?.reset();
  const before = await cpuOf(measured);
  const started = performance.now();
  const bytesSent = await body();
  const elapsed = seconds(started);
  const after = await cpuOf(measured);
  const cpu: Record<string, number> = {};
  const rssMiB: Record<string, number> = {};
  for (const [i, m] of measured.entries()) {
    cpu[m.name] = after[i]! - before[i]!;
    if (m.rss !== undefined) {
      const peak = await m.rss.peak();
      rssMiB[m.name] = Math.max(peak.hwmMiB, peak.sampledMiB);
    }
  }
  return { seconds: elapsed, cpu, rssMiB, ...(typeof bytesSent === 'number' ? { bytesSent } : {}) };
}

/** A pair of Ferry regions run with one injected flush latency, or why it could not start. */
interface FerryPair {
  readonly flushDelayMs: number;
  readonly regions?: Region[];
  readonly unavailable?: string;
  /** The sparse image in north-1 (D = 0 only), uploaded once. */
  sparseId?: string;
}

function ferryMeasured(regions: readonly Region[]): Measured[] {
  return regions.map((region) => ({ name: region.name, pids: [region.process.pid], rss: region.rss }));
}

export async function benchTargets(ctx: BenchContext, options: TargetsOptions): Promise<BenchResult> {
  const startedAt = new Date();
  const { size, md5 } = ctx;
  await checkFreeSpace(ctx.scratch, targetsSpaceNeeded(size) - size, 'the targets bench');
  const sparseBytes = SPARSE_SIZE_FACTOR * size;
  const sparseChunks = Math.max(1, Math.round((SPARSE_DATA_SHARE * size) / CHUNK_SIZE));
  const sparseDataBytes = sparseChunks * CHUNK_SIZE;
  const samples = new Map<string, Sample[]>();
  const record = (id: RowId, delay: number | undefined, sample: Sample, what: string) => {
    const key = `${id}@${delay ?? ''}`;
    samples.set(key, [...(samples.get(key) ?? []), sample]);
    const sent = sample.bytesSent === undefined ? '' : `, ${fmt(sample.bytesSent / MiB, 1)} MiB sent`;
    console.log(`  ${what}: ${fmt(sample.seconds, 2)} s${sent}`);
  };

  // Derived images (untimed).
  console.log('Making the changed copy and the sparse image (untimed)...');
  const changedFile = join(ctx.scratch, 'changed.raw');
  removeOnCleanup(ctx.cleanup, changedFile);
  const changed = await writeChangedCopy(ctx.source, changedFile, size);
  const sparseFile = join(ctx.scratch, 'sparse.raw');
  removeOnCleanup(ctx.cleanup, sparseFile);
  const sparse = await writeSparseFile(sparseFile, sparseBytes, sparseChunks);
  console.log(
    `  changed copy: ${changed.changed.length} chunks changed, md5 ${changed.md5}; sparse image: ` +
      `${fmt(sparseBytes / GiB, 2)} GiB with ${sparseChunks} random chunks, md5 ${sparse.md5}`,
  );

  // Glance.
  let glance: GlanceApi[] | undefined;
  let glanceStatus = 'skipped (--no-glance)';
  if (options.glance) {
    const why = await glanceUnavailable();
    if (why === undefined) {
      const dir = join(ctx.scratch, 'glance');
      removeOnCleanup(ctx.cleanup, dir);
      try {
        glance = await startGlances(dir, ['A', 'B'], ctx.cleanup);
        glanceStatus = 'used';
        console.log(
          `Glance: ${glance.map((api) => `${api.name} at ${api.url} (pids ${api.pids.join(', ')})`).join('; ')}`,
        );
      } catch (error) {
        glanceStatus = `glance-api did not start: ${(error as Error).message.split('\n')[0]}`;
      }
    } else glanceStatus = why;
    if (glance === undefined) console.log(`Glance: unavailable: ${glanceStatus}`);
  }

  // Ferry pairs, one per flush latency.
  const pairs: FerryPair[] = [];
  for (const delay of FLUSH_DELAYS_MS) {
    const dataDir = join(ctx.scratch, `regions-d${delay}`);
    removeOnCleanup(ctx.cleanup, dataDir);
    // D = 0: the defaults a deployment runs with. D > 0: only the setting under test.
    const settings = delay === 0 ? {} : { storage: { flushDelayMs: delay } };
    try {
      const start = (dir: string) =>
        startRegions({ dataDir: dir, settings, cleanup: ctx.cleanup, profileDir: ctx.profileDir });
      // Once more on fresh ports and data if the first start fails: a port found free may be taken by
      // another process before the region listens on it (seen once in a full run).
      const regions = await start(dataDir).catch(async (error: unknown) => {
        console.log(
          `Ferry, D = ${delay} ms: the regions did not start (${String(error).split('\n').slice(0, 3).join(' ')}); once more`,
        );
        removeOnCleanup(ctx.cleanup, `${dataDir}-again`);
        return start(`${dataDir}-again`);
      });
      ctx.cleanup.add(() => stopRegions(regions));
      pairs.push({ flushDelayMs: delay, regions });
      console.log(
        `Ferry, D = ${delay} ms: ${regions.map((r) => `${r.name} pid ${r.process.pid} at ${r.endpoint.url}`).join('; ')}`,
      );
    } catch (error) {
      // Without D = 0 there is nothing to compare with: that is an error. A D > 0 this build cannot run
      // (e.g. the setting is not known yet) leaves its rows unavailable, with Ferry's message.
      if (delay === 0) throw error;
      const message = (error as Error).message.split('\n').find((line) => /settings|error/i.test(line));
      pairs.push({
        flushDelayMs: delay,
        unavailable: `regions with storage.flushDelayMs ${delay} did not start: ${message ?? (error as Error).message.split('\n')[0]}`,
      });
      console.log(`Ferry, D = ${delay} ms: unavailable`);
    }
  }
  const base = pairs[0]!;
  {
    const [north] = base.regions!;
    console.log('Upload of the sparse image to north-1, D = 0 (untimed; kept for every round)...');
    base.sparseId = await createImage(north!.endpoint, 'bench-sparse');
    await uploadFile(north!.endpoint, base.sparseId, sparseFile);
    await checkImage(north!.endpoint, base.sparseId, sparseBytes, sparse.md5);
  }

  // The blocks of a round.
  const copyCached = new DurableCopyBaseline(ctx.source, join(ctx.scratch, 'copy.raw'));
  const copyUncached = new DurableCopyBaseline(ctx.source, join(ctx.scratch, 'copy.raw'), {
    uncachedSource: true,
  });
  const copyBlock = (id: RowId, baseline: DurableCopyBaseline, what: string) => async () => {
    await warmFreeMemory(size);
    const secs = await baseline.measure();
    record(id, undefined, { seconds: secs, cpu: {}, rssMiB: {} }, what);
  };

  const glanceBlock = async (round: number) => {
    const [a, b] = glance!;
    const measured = glance!.map((api) => ({ name: api.name, pids: api.pids }));
    const id = await createGlanceImage(a!, `bench-${round}`);
    record(
      'glance-upload',
      undefined,
      await measureStep(measured, size, () => glanceUpload(a!, id, ctx.source)),
      'Glance upload',
    );
    await checkGlanceImage(a!, id, size, md5);
    let copy = '';
    record(
      'glance-a-to-b',
      undefined,
      await measureStep(measured, size, async () => {
        copy = await glanceCopy(a!, id, b!, `bench-${round}`);
      }),
      'Glance A→B (curl | curl)',
    );
    await checkGlanceImage(b!, copy, size, md5);
    await deleteGlanceImage(a!, id);
    await deleteGlanceImage(b!, copy);
  };

  // The event loop of each D = 0 region process, one window per round (its upload, replications, deletes
  // and collection), and one for a replication run with GC, scrub and job lists (below).
  // Beside them, an idle process's: what the machine itself did to every process's loop meanwhile.
  const loopWindows = new Map<LoopDelayRow['id'], Array<Map<string, { maxMs: number; p99Ms: number }>>>();
  const idleProcess = await startLoopBaseline(ctx.cleanup);
  const startLoopWindows = async (regions: readonly Region[]) => {
    for (const region of regions) await loopDelayWindow(region);
    await idleProcess.window();
  };
  const readLoopWindows = async (id: LoopDelayRow['id'], regions: readonly Region[]) => {
    const window = new Map<string, { maxMs: number; p99Ms: number }>();
    for (const region of regions) window.set(region.name, await loopDelayWindow(region));
    window.set(IDLE_PROCESS, await idleProcess.window());
    loopWindows.set(id, [...(loopWindows.get(id) ?? []), window]);
    const text = [...window].map(([name, loop]) => `${name} ${fmt(loop.maxMs, 1)} ms`).join(', ');
    console.log(`  longest event-loop stall: ${text}`);
  };

  const ferryBlock = (pair: FerryPair) => async (round: number) => {
    const regions = pair.regions!;
    const [north, south] = regions as [Region, Region];
    const D = pair.flushDelayMs;
    if (pair === base) await startLoopWindows(regions);
    const measured = ferryMeasured(regions);
    const replicate = async (imageId: string, bytes: number, expectMd5: string) => {
      let replicaId = '';
      const sample = await measureStep(measured, bytes > size ? size : bytes, async () => {
        const done = await replicateAndWait(regions, imageId);
        replicaId = done.replicaId;
        return Number(done.job.bytes_transferred);
      });
      await checkImage(south.endpoint, replicaId, bytes, expectMd5);
      return { sample, replicaId };
    };

    const id = await createImage(north.endpoint, `bench-${round}`);
    record(
      'ferry-upload',
      D,
      await measureStep(measured, size, () => uploadFile(north.endpoint, id, ctx.source)),
      `Ferry upload, D = ${D} ms`,
    );
    await checkImage(north.endpoint, id, size, md5);
    const full = await replicate(id, size, md5);
    // A full replication must send every chunk: one that found chunks present would not be measuring a
    // new image (the collection between rounds did not reclaim them).
    if (full.sample.bytesSent !== size) {
      throw new Error(
        `the replication of a new image sent ${String(full.sample.bytesSent)} bytes, not ${size}: ` +
          'south-1 still held its chunks after the previous round was deleted and collected',
      );
    }
    record('ferry-replicate', D, full.sample, `Ferry replication, D = ${D} ms`);
    const replicas = [full.replicaId];
    const images = [id];
    if (pair.sparseId !== undefined) {
      const changedId = await createImage(north.endpoint, `bench-${round}-changed`);
      await uploadFile(north.endpoint, changedId, changedFile);
      await checkImage(north.endpoint, changedId, size, changed.md5);
      images.push(changedId);
      const delta = await replicate(changedId, size, changed.md5);
      replicas.push(delta.replicaId);
      record(
        'ferry-replicate-changed',
        D,
        delta.sample,
        `Ferry replication of the changed copy, D = ${D} ms`,
      );
      const sparseCopy = await replicate(pair.sparseId, sparseBytes, sparse.md5);
      replicas.push(sparseCopy.replicaId);
      record(
        'ferry-replicate-sparse',
        D,
        sparseCopy.sample,
        `Ferry replication of the sparse image, D = ${D} ms`,
      );
    }
    for (const replica of replicas) await deleteImage(south, replica);
    for (const image of images) await deleteImage(north, image);
    await collectGarbage(north);
    await collectGarbage(south);
    if (pair === base) await readLoopWindows('rounds', regions);
  };

  /**
   * `--runs` replications of the changed copy (untimed), each while each region runs, over and over until it
   * ends, a collection with no grace, a full-speed scrub and a job list: what most competes with a transfer
   * for a region process's event loop. One window per replication, so the verdict is a median like the
   * other targets' (a single window's longest stall is one draw of the machine's own stalls, see the idle
   * process beside it).
   */
  const loopUnderMaintenance = async () => {
    const regions = base.regions!;
    const [north, south] = regions as [Region, Region];
    const id = await createImage(north.endpoint, 'bench-maintenance');
    await uploadFile(north.endpoint, id, changedFile);
    for (let run = 0; run < ctx.runs; run++) {
      console.log(
        `Replication with GC, scrub and job lists running in both regions, D = 0 (event loop), ${run + 1} of ${ctx.runs}...`,
      );
      await startLoopWindows(regions);
      let replicating = true;
      const maintenance = Promise.all(
        regions.map(async (region) => {
          while (replicating) {
            await collectGarbage(region);
            await scrubStore(region);
            await listJobs(region);
          }
        }),
      );
      let replicaId: string;
      try {
        replicaId = (await replicateAndWait(regions, id)).replicaId;
      } finally {
        replicating = false;
        await maintenance;
      }
      await readLoopWindows('gc-scrub', regions);
      await checkImage(south.endpoint, replicaId, size, changed.md5);
      await deleteImage(south, replicaId);
      await collectGarbage(south);
    }
    await deleteImage(north, id);
    await collectGarbage(north);
  };

  const blocks: Array<{ name: string; run: (round: number) => Promise<void> }> = [
    {
      name: 'durable cp + sync, source cached',
      run: copyBlock('cp-cached', copyCached, 'cp + sync, source cached'),
    },
    {
      name: 'durable cp + sync, source evicted',
      run: copyBlock('cp-uncached', copyUncached, 'cp + sync, source evicted from the page cache'),
    },
    ...(glance === undefined ? [] : [{ name: 'Glance', run: glanceBlock }]),
    ...pairs
      .filter((pair) => pair.regions !== undefined)
      .map((pair) => ({ name: `Ferry, D = ${pair.flushDelayMs} ms`, run: ferryBlock(pair) })),
  ];
  for (let round = 0; round < ctx.runs; round++) {
    const order = blocks.map((_, i) => blocks[(i + round) % blocks.length]!);
    console.log(`Round ${round + 1} of ${ctx.runs}: ${order.map((block) => block.name).join(' → ')}`);
    for (const block of order) await block.run(round);
  }
  await loopUnderMaintenance();

  // Rows.
  const glanceGone =
    glance !== undefined
      ? undefined
      : options.glance
        ? `glance: unavailable (${glanceStatus})`
        : `glance: ${glanceStatus}`;
  const row = (
    id: RowId,
    label: string,
    imageBytes: number,
    delay: number | undefined,
    unavailable: string | undefined,
  ): BenchRow => {
    const runs = samples.get(`${id}@${delay ?? ''}`) ?? [];
    const base = { id, label, imageBytes, ...(delay === undefined ? {} : { flushDelayMs: delay }) };
    if (unavailable !== undefined || runs.length === 0) {
      return { ...base, unavailable: unavailable ?? 'no runs' };
    }
    const names = Object.keys(runs[0]!.cpu);
    const cpu: Record<string, ReturnType<typeof spread>> = {};
    const perGiB = (sample: Sample, name?: string) =>
      (name === undefined ? Object.values(sample.cpu).reduce((a, b) => a + b, 0) : sample.cpu[name]!) /
      (imageBytes / GiB);
    for (const name of names) cpu[name] = spread(runs.map((sample) => perGiB(sample, name)));
    if (names.length > 1) {
      cpu[id.startsWith('glance') ? BOTH_GLANCES : BOTH_REGIONS] = spread(
        runs.map((sample) => perGiB(sample)),
      );
    }
    const rss: Record<string, number> = {};
    for (const sample of runs) {
      for (const [name, mib] of Object.entries(sample.rssMiB)) rss[name] = Math.max(rss[name] ?? 0, mib);
    }
    return {
      ...base,
      seconds: spread(runs.map((sample) => sample.seconds)),
      ...(runs[0]!.bytesSent === undefined
        ? {}
        : { bytesSent: spread(runs.map((sample) => sample.bytesSent!)) }),
      ...(names.length === 0 ? {} : { cpuSecondsPerGiB: cpu }),
      ...(Object.keys(rss).length === 0 ? {} : { peakRssMiB: rss }),
    };
  };
  const sizeText = `${fmt(size / GiB, 2)} GiB`;
  const rows: BenchRow[] = [
    row('cp-cached', `durable cp + sync of the ${sizeText} image, source cached`, size, undefined, undefined),
    row('cp-uncached', `durable cp + sync, source evicted from the page cache`, size, undefined, undefined),
  ];
  for (const pair of pairs) {
    rows.push(
      row(
        'ferry-upload',
        `Ferry upload of a new ${sizeText} random image (curl -T, durable)`,
        size,
        pair.flushDelayMs,
        pair.unavailable,
      ),
    );
  }
  rows.push(
    row(
      'glance-upload',
      `Glance upload of the same bytes (curl -T, not fsync'd)`,
      size,
      undefined,
      glanceGone,
    ),
  );
  for (const pair of pairs) {
    rows.push(
      row(
        'ferry-replicate',
        `Ferry replication north-1 → south-1 of the new image`,
        size,
        pair.flushDelayMs,
        pair.unavailable,
      ),
    );
  }
  rows.push(row('glance-a-to-b', 'Glance A→B (curl GET A | curl -T - PUT B)', size, undefined, glanceGone));
  rows.push(
    row(
      'ferry-replicate-changed',
      'Ferry replication of the image with 5% of its chunks changed',
      size,
      0,
      undefined,
    ),
    row(
      'ferry-replicate-sparse',
      `Ferry replication of a ${fmt(sparseBytes / GiB, 2)} GiB sparse image with ${fmt(sparseDataBytes / MiB, 0)} MiB of data`,
      sparseBytes,
      0,
      undefined,
    ),
  );
  const loopLabels: Record<LoopDelayRow['id'], string> = {
    rounds: 'each round: upload, replications, deletes, garbage collection',
    'gc-scrub': 'a replication while GC (no grace), a full-speed scrub and job lists run over and over',
  };
  const loopDelay: LoopDelayRow[] = [...loopWindows].map(([id, windows]) => {
    const maxMs: Record<string, number> = {};
    const p99Ms: Record<string, number> = {};
    const longestByWindow: Record<string, number[]> = {};
    for (const window of windows) {
      for (const [name, loop] of window) {
        maxMs[name] = Math.max(maxMs[name] ?? 0, loop.maxMs);
        p99Ms[name] = Math.max(p99Ms[name] ?? 0, loop.p99Ms);
        (longestByWindow[name] ??= []).push(loop.maxMs);
      }
    }
    const medianMaxMs = Object.fromEntries(
      Object.entries(longestByWindow).map(([name, values]) => [name, median(values)]),
    );
    // Per window, the longer of the two regions' longest stalls: what the verdict takes the median of.
    const regionsLongest = windows.map((window) =>
      Math.max(...[...window].filter(([name]) => name !== IDLE_PROCESS).map(([, loop]) => loop.maxMs)),
    );
    return {
      id,
      label: loopLabels[id],
      windows: windows.length,
      maxMs,
      p99Ms,
      medianMaxMs,
      regionsLongestMs: regionsLongest,
    };
  });
  const result = {
    version: 1 as const,
    started: startedAt.toISOString(),
    finished: new Date().toISOString(),
    machine: await machineLine(ctx.scratch),
    build: await buildLine(),
    sizeBytes: size,
    sparseBytes,
    sparseDataBytes,
    runs: ctx.runs,
    glance: glanceStatus,
    rows,
    loopDelay,
  };
  return { ...result, verdicts: computeVerdicts(result) };
}
