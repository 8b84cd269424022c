/**
 * `npm run bench`. By default the bench of issue 16's targets (bench/targets.ts): Ferry's upload and
 * replication beside Glance's and beside durable copies of the same bytes, in interleaved rounds, at 0 and
 * 10 ms of injected flush latency, with a verdict per target. Three older diagnostic parts stay available
 * with `--only`: upload/download through one region (below), replication in detail (`bench/replicate.ts`),
 * and what the disk allows the fs blob driver alone (`bench/disk.ts`); and the scale-out bench, the embedded
 * stack beside PostgreSQL + S3 and 1, 2 or 4 workers per region (`bench/scale.ts`).
 *
 *   npm run bench -- [--size-gib N (default 2)] [--runs N (rounds, default 5)] [--no-glance]
 *                    [--json FILE (rows and verdicts)] [--report docs/performance.md (regenerate its
 *                    "Latest full run" section from the results)]
 *                    [--only targets|upload|replicate|disk|scale (default: targets)]
 *                    [--dir PATH (scratch folder; default: a temp dir under os.tmpdir(), which must be on
 *                    the same disk as the data)] [--cpu-prof-dir PATH (profile the region processes;
 *                    diagnostics only, it slows them down)]
 *
 * The diagnostic parts (`--only upload|replicate|disk`):
 *
 * Shared steps: generate N GiB of random (non-dedupable) data and its MD5 (untimed) → `cp file copy && sync`
 * (timed, the baseline; the copy is dropped) 3 times, and once more before every run of a repeated step and
 * before the upload: its time drifts over minutes on the dev VM, so each step is compared with the median of
 * every baseline run of the bench (see DurableCopyBaseline).
 *
 * Upload/download: start `ferry local --regions north-1` as a child process (spawned from the build as
 * `node dist/cli/main.js`; `npm run bench` builds first; the region runs in a process of its own under it,
 * whose pid the start banner prints, so the region's RSS and CPU are measured alone) → upload
 * through the API (timed, once: a second upload of the same bytes would find every chunk stored; the image's
 * size and checksum must match) → Ferry's ingest of the same file alone, nothing stored, in a child process
 * (diagnostic: the upload's CPU floor, bench/ingest-floor.ts) → `--runs` downloads through the API by curl
 * into a file on the same disk, then `sync`, like the baseline (timed; its MD5 checked afterwards) → three
 * diagnostic downloads (a Node client to a file with fsync; to a file with the MD5 on the way; curl to
 * /dev/null) → a markdown table. Free memory is warmed before each step (see warm-memory.ts). The
 * server's peak RSS is its VmHWM (reset through /proc/<pid>/clear_refs before each step) cross-checked by
 * sampling VmRSS every 100 ms.
 *
 * Scratch files and servers go away on every path, Ctrl-C included.
 * @module
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { benchDisk } from './disk.js';
import { benchListing, isListingBench } from './listing.js';
import { benchReplication, replicationSpaceNeeded } from './replicate.js';
import { benchScale, scaleSpaceNeeded } from './scale.js';
import { renderReport, updateReport } from './report.js';
import { benchTargets, targetsSpaceNeeded } from './targets.js';
import { warmFreeMemory } from './warm-memory.js';
import {
  BASELINE_RUNS,
  STEP_RUNS,
  benchCpuSeconds,
  checkFreeSpace,
  checkImage,
  Cleanup,
  cpuSnapshot,
  createImage,
  download,
  DurableCopyBaseline,
  curlDownload,
  curlDownloadDiscard,
  interrupted,
  medianRun,
  REPO_ROOT,
  run,
  runLines,
  flushDirtyPages,
  fmt,
  formatRss,
  md5OfFile,
  pairedRatios,
  freePort,
  generateRandomFile,
  GiB,
  machineLine,
  markdownTable,
  metOrNot,
  otherCpu,
  MiB,
  procCpuSeconds,
  procStatusKiB,
  removeOnCleanup,
  RssMonitor,
  seconds,
  startFerryProcess,
  ThreadCpuMonitor,
  uploadFile,
  type BenchContext,
  type Endpoint,
  type PeakRss,
} from './lib.js';

/** Acceptance targets, as fractions of the durable cp's throughput. */
const UPLOAD_TARGET = 0.3;
const DOWNLOAD_TARGET = 0.6;

// ---------------------------------------------------------------------------------------------------------
// Arguments

type Part = 'targets' | 'upload' | 'replicate' | 'disk' | 'scale';
const PARTS: readonly Part[] = ['targets', 'upload', 'replicate', 'disk', 'scale'];

interface Options {
  readonly sizeBytes: number;
  readonly dir: string;
  readonly parts: readonly Part[];
  readonly profileDir: string | undefined;
  readonly runs: number;
  readonly glance: boolean;
  readonly json: string | undefined;
  readonly report: string | undefined;
}

function parseOptions(): Options {
  const { values } = parseArgs({
    options: {
      'size-gib': { type: 'string', default: '2' },
      dir: { type: 'string' },
      only: { type: 'string' },
      'cpu-prof-dir': { type: 'string' },
      runs: { type: 'string', default: String(STEP_RUNS) },
      'no-glance': { type: 'boolean', default: false },
      json: { type: 'string' },
      report: { type: 'string' },
    },
    strict: true,
  });
  const sizeGiB = Number(values['size-gib']);
  if (!Number.isFinite(sizeGiB) || sizeGiB <= 0) throw new Error(`--size-gib must be a positive number`);
  // Whole MiB, so every chunk is a full random 1 MiB.
  const sizeBytes = Math.max(1, Math.round(sizeGiB * 1024)) * MiB;
  const runs = Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs must be a positive integer`);
  const only = values.only ?? 'targets';
  if (!PARTS.includes(only as Part)) throw new Error(`--only must be one of ${PARTS.join(', ')}`);
  if ((values.json !== undefined || values.report !== undefined) && only !== 'targets') {
    throw new Error('--json and --report are results of the targets bench (no --only, or --only targets)');
  }
  return {
    sizeBytes,
    dir: values.dir ?? os.tmpdir(),
    parts: [only as Part],
    profileDir: values['cpu-prof-dir'],
    runs,
    glance: !values['no-glance'],
    json: values.json,
    report: values.report,
  };
}

// ---------------------------------------------------------------------------------------------------------
// Upload and download through one region (`ferry local`)

/** The upload CPU floor's script, run in a child process. */
const INGEST_FLOOR_SCRIPT = join(REPO_ROOT, 'bench', 'ingest-floor.ts');

interface Row {
  readonly threads?: string;
  readonly step: string;
  /** The median run's (the only run's, for a step run once). */
  readonly seconds: number;
  /** Every run's seconds, for a repeated step. */
  readonly runs?: number[];
  /** The baseline run's seconds just before each run. */
  readonly cpBefore?: number[];
  /** The same for the baseline whose source is read from the disk (downloads). */
  readonly uncachedCpBefore?: number[];
  readonly rss?: PeakRss;
  readonly serverCpu?: number;
  readonly benchCpu?: number;
  readonly rest?: string;
}

/**
 * Starts `ferry local --regions north-1` on a free port; resolves its URL, demo token and the pid of the
 * region's process (a child of `ferry local`, which only supervises it: the one to measure).
 */
async function startLocalFerry(ctx: BenchContext, dataDir: string) {
  return startFerryProcess({
    args: ['local', '--data', dataDir, '--port', String(await freePort()), '--regions', 'north-1'],
    nodeFlags:
      ctx.profileDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${join(ctx.profileDir, 'local')}`],
    cleanup: ctx.cleanup,
    ready: (stdout): (Endpoint & { regionPid: number }) | undefined => {
      const token = /^Token \(valid 7 days, every region\): (\S+)$/m.exec(stdout)?.[1];
      const url = /^\s+north-1\s+(http:\/\/\S+)$/m.exec(stdout)?.[1];
      const pid = /\bnorth-1 pid (\d+)/.exec(stdout)?.[1];
      return token !== undefined && url !== undefined && pid !== undefined
        ? { url, token, regionPid: Number(pid) }
        : undefined;
    },
  });
}

async function benchUploadDownload(ctx: BenchContext): Promise<void> {
  const { size, md5 } = ctx;
  await checkFreeSpace(ctx.scratch, 2.2 * size, 'the upload/download bench');
  const dataDir = join(ctx.scratch, 'ferry-local');
  const removeData = removeOnCleanup(ctx.cleanup, dataDir);
  const server = await startLocalFerry(ctx, dataDir);
  const endpoint = server.info;
  // What is measured is the region's process; `ferry local` (server.pid) only supervises it.
  const regionPid = server.info.regionPid;
  const rss = new RssMonitor(regionPid);
  const threads = new ThreadCpuMonitor(regionPid);
  const rows: Row[] = [];
  try {
    const idleMiB = (await procStatusKiB(regionPid, 'VmRSS')) / 1024;
    console.log(`Ferry region pid ${regionPid} at ${endpoint.url}, idle VmRSS ${fmt(idleMiB, 0)} MiB`);
    const id = await createImage(endpoint, 'bench');

    const measure = async (step: string, body: () => Promise<void>): Promise<Row> => {
      // As the baseline's second and third copies do, every step writes into memory freed moments before
      // (see warm-memory.ts): the server's chunks go past the page cache, but the client's download does not.
      await warmFreeMemory(size);
      await rss.reset();
      const serverCpu = await procCpuSeconds(regionPid);
      const benchCpu = benchCpuSeconds();
      const machine = await cpuSnapshot();
      await threads.begin();
      const started = performance.now();
      await body();
      const elapsed = seconds(started);
      const threadCpu = await threads.end();
      const rest = otherCpu(machine, await cpuSnapshot(), new Set([process.pid, server.pid, regionPid]));
      return {
        step,
        seconds: elapsed,
        rss: await rss.peak(),
        serverCpu: (await procCpuSeconds(regionPid)) - serverCpu,
        benchCpu: benchCpuSeconds() - benchCpu,
        rest,
        threads: threadCpu,
      };
    };

    console.log('Upload...');
    // Once: uploading the same bytes again would find every chunk stored. A baseline run right before it.
    await ctx.baseline.measure();
    rows.push(await measure('upload (PUT, stored durably)', () => uploadFile(endpoint, id, ctx.source)));
    await checkImage(endpoint, id, size, md5);
    console.log(`  verified: active, size ${size}, checksum ${md5}`);
    await flushDirtyPages();

    // Not an acceptance row: the upload's CPU floor, Ferry's ingest of the same file with no network and no
    // disk (bench/ingest-floor.ts, in a child process), on the same two cores. Its own timing: the child's
    // start-up is left out.
    console.log('Ingest alone, nothing stored (diagnostic)...');
    let floor = { seconds: 0, cpuSeconds: 0, size: 0, md5: '' };
    const floorRow = await measure(
      'diagnostic: ingest alone (no HTTP, nothing stored; own process)',
      async () => {
        const { stdout } = await run(process.execPath, ['--import', 'tsx', INGEST_FLOOR_SCRIPT, ctx.source], {
          cwd: REPO_ROOT,
          signal: interrupted.signal,
        });
        floor = JSON.parse(stdout) as typeof floor;
      },
    );
    if (floor.size !== size || floor.md5 !== md5) {
      throw new Error(`ingest alone: ${floor.size} bytes, md5 ${floor.md5} (want ${md5})`);
    }
    // The server is idle meanwhile: its RSS is not this row's; the child's CPU is shown as the bench's.
    rows.push({ ...floorRow, seconds: floor.seconds, benchCpu: floor.cpuSeconds, rss: undefined });

    // The acceptance row: a stock client (curl) writes the bytes to a file on the same disk, then `sync`, as
    // the baseline does `cp` then `sync`; the MD5 is checked afterwards, untimed, as for the upload. Each run
    // follows a baseline run; the median run is reported. (A Node client costs ~2 s more CPU per 2 GiB on
    // the same two cores as the server: see the diagnostic row below.)
    // A download reads Ferry's chunks from the disk (the fs driver writes them past the page cache) and
    // writes the file: the like-for-like copy reads its source from the disk too. Both baselines are shown.
    const target = join(ctx.scratch, 'download.raw');
    const downloads: Row[] = [];
    const cpBefore: number[] = [];
    const uncachedCpBefore: number[] = [];
    for (let i = 0; i < BASELINE_RUNS; i++) await ctx.uncachedBaseline.measure();
    for (let i = 1; i <= ctx.runs; i++) {
      console.log(`Download ${i} of ${ctx.runs}...`);
      uncachedCpBefore.push(await ctx.uncachedBaseline.measure());
      cpBefore.push(await ctx.baseline.measure());
      let bytes = 0;
      downloads.push(
        await measure('download (curl GET → file, then sync, like cp + sync)', async () => {
          bytes = await curlDownload(endpoint, id, target);
        }),
      );
      const downloadedMd5 = await md5OfFile(target);
      if (bytes !== size || downloadedMd5 !== md5) {
        throw new Error(`download mismatch: ${bytes} bytes, md5 ${downloadedMd5} (want ${md5})`);
      }
      console.log(`  verified afterwards: ${bytes} bytes, md5 ${downloadedMd5}`);
      await rm(target);
      await flushDirtyPages();
    }
    rows.push({ ...medianRun(downloads), cpBefore, uncachedCpBefore });

    // Not an acceptance row: the same with this bench's Node client (fsync at the end).
    console.log('Download with a Node client (diagnostic)...');
    let downloaded = { md5: undefined as string | undefined, bytes: 0 };
    rows.push(
      await measure('diagnostic: Node client GET → file, fsync', async () => {
        downloaded = await download(endpoint, id, target, { hash: false, durable: true });
      }),
    );
    const nodeMd5 = await md5OfFile(target);
    if (downloaded.bytes !== size || nodeMd5 !== md5) {
      throw new Error(`download mismatch: ${downloaded.bytes} bytes, md5 ${nodeMd5} (want ${md5})`);
    }
    await rm(target);
    await flushDirtyPages();

    // Not an acceptance row: a client that checks the MD5 as the bytes arrive (as glance's `image-download`
    // does) on the same 2 cores. MD5 is serial and runs ~650-700 MiB/s here, which bounds this row.
    console.log('Download with the MD5 on the way (diagnostic)...');
    rows.push(
      await measure('diagnostic: download → file, no fsync, client MD5 on the way', async () => {
        downloaded = await download(endpoint, id, target, { hash: true, durable: false });
      }),
    );
    if (downloaded.bytes !== size || downloaded.md5 !== md5) {
      throw new Error(`download mismatch: ${downloaded.bytes} bytes, md5 ${downloaded.md5} (want ${md5})`);
    }
    await rm(target);
    await flushDirtyPages();

    // Not an acceptance row: curl drops the bytes on arrival. What the server delivers, without the client's
    // writes of 2 GiB of new page cache and their write-back, which share the two cores and the disk with it.
    console.log('Download by curl, discarded (diagnostic)...');
    let discarded = 0;
    rows.push(
      await measure('diagnostic: curl GET → /dev/null (what the server delivers)', async () => {
        discarded = await curlDownloadDiscard(endpoint, id);
      }),
    );
    if (discarded !== size) throw new Error(`discarded download: ${discarded} bytes`);

    const uncached: Row = {
      step: `durable cp + sync, source read from the disk (median of ${ctx.uncachedBaseline.runs.length} runs)`,
      seconds: ctx.uncachedBaseline.seconds,
      runs: ctx.uncachedBaseline.runs,
    };
    rows.unshift(
      {
        step: `durable cp + sync (median of ${ctx.baseline.runs.length} runs)`,
        seconds: ctx.baseline.seconds,
        runs: ctx.baseline.runs,
      },
      uncached,
    );
    printUploadReport(size, rows, await machineLine(ctx.scratch), idleMiB);
  } finally {
    rss.stop();
    await server.stop();
    await removeData();
  }
}

function printUploadReport(size: number, rows: Row[], machine: string, idleMiB: number): void {
  const baseline = rows[0]!;
  const uncached = rows[1]!;
  const rate = (row: Row) => size / MiB / row.seconds;
  const lines = [
    '',
    `## Upload and download: ${fmt(size / GiB, 2)} GiB of random data, ${new Date().toISOString()}`,
    '',
    ...markdownTable(
      [
        'step',
        'seconds',
        'MiB/s',
        'ratio to durable cp',
        'ratio to cp from the disk',
        'server peak RSS (MiB)',
      ],
      ['l', 'r', 'r', 'r', 'r', 'l'],
      rows.map((row) => [
        row.step,
        fmt(row.seconds, 2),
        fmt(rate(row), 0),
        fmt(rate(row) / rate(baseline), 2),
        fmt(rate(row) / rate(uncached), 2),
        row.rss === undefined ? 'n/a (server not involved)' : formatRss(row.rss),
      ]),
    ),
    '',
    ...runLines(rows),
    ...rows.flatMap(({ step, runs, uncachedCpBefore }) =>
      runs === undefined || uncachedCpBefore === undefined
        ? []
        : [`Runs of "${step}", ${pairedRatios(uncachedCpBefore, runs, 'the cp from the disk')}.`],
    ),
    'Each download run and the upload follow a durable cp run (each download also a cp from the disk); the ' +
      'ratios are against the median of all runs of each.',
    '',
    machine,
  ];
  const uploadRatio = rate(rows.find((row) => row.step.startsWith('upload'))!) / rate(baseline);
  const downloadRow = rows.find((row) => row.step.startsWith('download'))!;
  const downloadRatio = rate(downloadRow) / rate(baseline);
  const downloadUncachedRatio = rate(downloadRow) / rate(uncached);
  lines.push(
    `Targets: upload ≥ ${UPLOAD_TARGET * 100}% of durable cp: ${metOrNot(uploadRatio >= UPLOAD_TARGET)} (${fmt(uploadRatio * 100, 0)}%); ` +
      `download ≥ ${DOWNLOAD_TARGET * 100}% of durable cp: ${metOrNot(downloadRatio >= DOWNLOAD_TARGET)} (${fmt(downloadRatio * 100, 0)}%), ` +
      `of durable cp reading its source from the disk, as the download reads Ferry's chunks: ` +
      `${metOrNot(downloadUncachedRatio >= DOWNLOAD_TARGET)} (${fmt(downloadUncachedRatio * 100, 0)}%)`,
  );
  lines.push('', 'CPU seconds used during each step (user + system, all threads):');
  for (const row of rows.slice(2)) {
    lines.push(
      `  ${row.step.padEnd(48)} server ${fmt(row.serverCpu ?? 0, 2)} s, bench process ${fmt(row.benchCpu ?? 0, 2)} s ` +
        `(wall ${fmt(row.seconds, 2)} s × ${os.availableParallelism()} cores = ${fmt(row.seconds * os.availableParallelism(), 2)} core-s); ` +
        `rest of the machine: ${row.rest ?? 'n/a'}`,
    );
    lines.push(`  ${''.padEnd(48)} server threads: ${row.threads ?? 'n/a'}`);
  }
  lines.push(
    '',
    `Server idle VmRSS before the upload: ${fmt(idleMiB, 0)} MiB. The source file is in the page cache; the ` +
      'server writes and reads chunks with O_DIRECT, past it.',
  );
  console.log(lines.join('\n'));
}

// ---------------------------------------------------------------------------------------------------------
// Main

async function main(): Promise<void> {
  // `--only listing` measures metadata, not data: a bench of its own, with its own options (bench/listing.ts).
  if (isListingBench(process.argv.slice(2))) return benchListing(process.argv.slice(2));
  const options = parseOptions();
  const size = options.sizeBytes;
  const cleanup = new Cleanup();
  try {
    const scratch = await mkdtemp(join(options.dir, 'ferry-bench-'));
    removeOnCleanup(cleanup, scratch);
    const needed = Math.max(
      options.parts.includes('targets') ? targetsSpaceNeeded(size) : 0,
      options.parts.includes('upload') ? 3.3 * size : 0,
      options.parts.includes('replicate') ? replicationSpaceNeeded(size) : 0,
      options.parts.includes('disk') ? 2.2 * size : 0,
      options.parts.includes('scale') ? scaleSpaceNeeded(size) : 0,
    );
    await checkFreeSpace(scratch, needed, `a ${fmt(size / GiB, 2)} GiB bench`);
    if (options.profileDir !== undefined) await mkdir(options.profileDir, { recursive: true });

    const source = join(scratch, 'source.raw');
    console.log(`Scratch: ${scratch}`);
    console.log(`Generating ${fmt(size / GiB, 2)} GiB of random data and its MD5 (untimed)...`);
    const started = performance.now();
    const md5 = await generateRandomFile(source, size);
    console.log(`  done in ${fmt(seconds(started), 2)} s, md5 ${md5}`);

    const baseline = new DurableCopyBaseline(source, join(scratch, 'copy.raw'));
    const uncachedBaseline = new DurableCopyBaseline(source, join(scratch, 'copy.raw'), {
      uncachedSource: true,
    });
    const ctx: BenchContext = {
      scratch,
      size,
      source,
      md5,
      baseline,
      uncachedBaseline,
      runs: options.runs,
      cleanup,
      profileDir: options.profileDir,
    };
    if (options.parts.includes('targets')) {
      const result = await benchTargets(ctx, { glance: options.glance });
      console.log(['', ...renderReport(result)].join('\n'));
      if (options.json !== undefined) {
        await writeFile(options.json, `${JSON.stringify(result, null, 2)}\n`);
        console.log(`\nResults: ${options.json}`);
      }
      if (options.report !== undefined) {
        await updateReport(options.report, result);
        console.log(`${options.report}: "Latest full run" regenerated`);
      }
      return;
    }
    // The diagnostic parts compare with the median of every baseline run, the first ones made here.
    for (let i = 0; i < BASELINE_RUNS; i++) await baseline.measure();
    console.log(`Durable cp + sync: ${baseline.describe()}`);
    if (options.parts.includes('upload')) await benchUploadDownload(ctx);
    if (options.parts.includes('replicate')) await benchReplication(ctx);
    if (options.parts.includes('disk')) await benchDisk(ctx);
    if (options.parts.includes('scale')) await benchScale(ctx);
  } finally {
    await cleanup.run();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
