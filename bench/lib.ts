/**
 * Shared pieces of the API benchmarks (`bench/run.ts`, `bench/replicate.ts`): data generation, the durable
 * `cp` + `sync` baseline, Ferry server processes, peak RSS and CPU from /proc, API calls, markdown tables,
 * and cleanup of processes and scratch files on every path (Ctrl-C included).
 * @module
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomFillSync } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync, type WriteStream } from 'node:fs';
import { open, readdir, readFile, rm, stat, statfs, writeFile } from 'node:fs/promises';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { createServer } from 'node:net';
import os from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

export const run = promisify(execFile);
export const MiB = 1024 * 1024;
export const GiB = 1024 * MiB;
export const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
/** Timed runs of the durable cp baseline before the first step; each repeated step adds one more. */
export const BASELINE_RUNS = 3;
/**
 * Default runs of each repeatable step (`--runs`; rounds of the targets bench); the median is reported.
 * Five: on this VM's drifting disk, three runs gave medians that moved by a factor of two between runs.
 */
export const STEP_RUNS = 5;
/** Aborted on Ctrl-C / SIGTERM: cuts the HTTP transfer or cp in progress so cleanup doesn't wait for it. */
export const interrupted = new AbortController();

/** What both benchmarks share: one generated file, its MD5, and the durable copy of it. */
export interface BenchContext {
  readonly scratch: string;
  readonly size: number;
  /** The generated random file and its MD5. */
  readonly source: string;
  readonly md5: string;
  /** Durable `cp` + `sync` of `source` on the same disk, run between the steps too. */
  readonly baseline: DurableCopyBaseline;
  /** The same with `source` read from the disk (evicted from the page cache before each run). */
  readonly uncachedBaseline: DurableCopyBaseline;
  /** Runs of each repeatable acceptance step. */
  readonly runs: number;
  readonly cleanup: Cleanup;
  /** Written to `--cpu-prof-dir` of each region process when set (diagnostics; slows the servers a bit). */
  readonly profileDir: string | undefined;
}

// ---------------------------------------------------------------------------------------------------------
// Cleanup

/**
 * Cleanup steps run once, last added first: on success, on error, and on Ctrl-C / SIGTERM (which also aborts
 * `interrupted` and exits 130 / 143).
 */
export class Cleanup {
  private readonly steps: Array<() => Promise<void>> = [];
  private done: Promise<void> | undefined;
  private readonly onSignal = (signal: NodeJS.Signals) => {
    console.error(`\n${signal}: stopping the servers and removing the scratch files`);
    interrupted.abort();
    void this.run().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  };

  constructor() {
    process.once('SIGINT', this.onSignal);
    process.once('SIGTERM', this.onSignal);
  }

  /** Adds a step; returns a function that runs it now (once) and drops it from the list. */
  add(step: () => Promise<void>): () => Promise<void> {
    let ran: Promise<void> | undefined;
    const once = () => (ran ??= step());
    this.steps.push(once);
    return async () => {
      const index = this.steps.indexOf(once);
      if (index >= 0) this.steps.splice(index, 1);
      await once();
    };
  }

  run(): Promise<void> {
    return (this.done ??= (async () => {
      for (const step of this.steps.splice(0).reverse()) {
        await step().catch((error: unknown) => console.error('cleanup:', error));
      }
      process.off('SIGINT', this.onSignal);
      process.off('SIGTERM', this.onSignal);
    })());
  }
}

/** Adds the removal of `path` to `cleanup`; returns a function that removes it now. */
export function removeOnCleanup(cleanup: Cleanup, path: string): () => Promise<void> {
  return cleanup.add(() => rm(path, { recursive: true, force: true }));
}

// ---------------------------------------------------------------------------------------------------------
// Measuring helpers

export function seconds(since: number): number {
  return (performance.now() - since) / 1000;
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const half = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[half]! : (sorted[half - 1]! + sorted[half]!) / 2;
}

/** Durable writes from earlier steps must not be billed to the next timed step. */
export async function flushDirtyPages(): Promise<void> {
  await run('sync');
}

export async function procStatusKiB(pid: number, field: 'VmHWM' | 'VmRSS'): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
  if (match === null) throw new Error(`no ${field} in /proc/${pid}/status`);
  return Number(match[1]);
}

/** CPU seconds (user + system) the process used so far, all its threads included. */
export async function procCpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  return ticks / 100; // USER_HZ is 100 on Linux
}

/** CPU seconds (user + system) this bench process used so far. */
export function benchCpuSeconds(): number {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1e6;
}

/**
 * A snapshot of where the machine's CPU time went so far: the busy time of all cores from /proc/stat (softirq
 * and steal also apart), and each live process's own CPU time (children not included).
 */
export interface CpuSnapshot {
  readonly busy: number;
  readonly softirq: number;
  readonly steal: number;
  readonly processes: ReadonlyMap<
    number,
    { readonly name: string; readonly kernel: boolean; readonly cpu: number }
  >;
}

export async function cpuSnapshot(): Promise<CpuSnapshot> {
  const line = (await readFile('/proc/stat', 'utf8')).split('\n')[0] ?? '';
  // user nice system idle iowait irq softirq steal guest guest_nice (guest time is already in user).
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  const busy = f.slice(0, 8).reduce((a, b) => a + b, 0) - (f[3] ?? 0) - (f[4] ?? 0);
  const processes = new Map<number, { name: string; kernel: boolean; cpu: number }>();
  for (const entry of await readdir('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid)) continue;
    try {
      const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // ppid is field 4; utime and stime are fields 14 and 15.
      const ppid = Number(rest[1]);
      const cpu = (Number(rest[11]) + Number(rest[12])) / 100;
      processes.set(pid, { name, kernel: pid === 2 || ppid === 2, cpu });
    } catch {
      // gone meanwhile
    }
  }
  return { busy: busy / 100, softirq: (f[6] ?? 0) / 100, steal: (f[7] ?? 0) / 100, processes };
}

/**
 * CPU seconds between two snapshots used outside the processes `ours` (by pid): kernel threads, softirq
 * (network and block completions, billed to no process), steal, and other processes: the machine's busy time
 * left over, which includes processes that came and went; the live ones using most are named.
 */
export function otherCpu(before: CpuSnapshot, after: CpuSnapshot, ours: ReadonlySet<number>): string {
  let kernel = 0;
  let mine = 0;
  const others: Array<{ name: string; cpu: number }> = [];
  for (const [pid, now] of after.processes) {
    const used = now.cpu - (before.processes.get(pid)?.cpu ?? 0);
    if (used <= 0) continue;
    if (ours.has(pid)) mine += used;
    else if (now.kernel) kernel += used;
    else others.push({ name: `${now.name}[${pid}]`, cpu: used });
  }
  others.sort((a, b) => b.cpu - a.cpu);
  const softirq = after.softirq - before.softirq;
  const steal = after.steal - before.steal;
  const rest = Math.max(0, after.busy - before.busy - mine - kernel - softirq - steal);
  const top = others
    .filter((o) => o.cpu >= 0.1)
    .slice(0, 3)
    .map((o) => `${o.name} ${fmt(o.cpu, 2)}`)
    .join(', ');
  return (
    `other processes ${fmt(rest, 2)} s${top === '' ? '' : ` (of which ${top})`}, ` +
    `kernel threads ${fmt(kernel, 2)} s, softirq ${fmt(softirq, 2)} s, steal ${fmt(steal, 2)} s`
  );
}

export interface PeakRss {
  readonly hwmMiB: number;
  readonly sampledMiB: number;
  /** VmHWM could not be reset: it is the peak since the process started. */
  readonly hwmSinceStart: boolean;
}

/**
 * Peak RSS of one process: VmHWM, reset at `reset()` through clear_refs (Linux ≥ 4.0), and VmRSS sampled
 * every 100 ms as a cross-check.
 */
export class RssMonitor {
  private maxSampledKiB = 0;
  private readonly timer: NodeJS.Timeout;
  private hwmResettable = true;

  constructor(private readonly pid: number) {
    this.timer = setInterval(() => {
      procStatusKiB(pid, 'VmRSS').then(
        (kib) => (this.maxSampledKiB = Math.max(this.maxSampledKiB, kib)),
        () => undefined, // the process is gone: stop() follows
      );
    }, 100);
    this.timer.unref(); // never what keeps the bench running
  }

  /** Starts a new measurement window. */
  async reset(): Promise<void> {
    this.maxSampledKiB = await procStatusKiB(this.pid, 'VmRSS');
    try {
      await writeFile(`/proc/${this.pid}/clear_refs`, '5');
    } catch {
      this.hwmResettable = false;
    }
  }

  /** Peak since the last reset, in MiB: VmHWM (since start if it could not be reset) and sampled VmRSS. */
  async peak(): Promise<PeakRss> {
    const rss = await procStatusKiB(this.pid, 'VmRSS');
    this.maxSampledKiB = Math.max(this.maxSampledKiB, rss);
    const hwm = await procStatusKiB(this.pid, 'VmHWM');
    return { hwmMiB: hwm / 1024, sampledMiB: this.maxSampledKiB / 1024, hwmSinceStart: !this.hwmResettable };
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

/** "210 VmHWM, 211 max sampled VmRSS" (MiB). */
export function formatRss(rss: PeakRss | undefined): string {
  if (rss === undefined) return 'n/a';
  return (
    `${fmt(rss.hwmMiB, 0)} VmHWM${rss.hwmSinceStart ? ' (since start)' : ''}, ` +
    `${fmt(rss.sampledMiB, 0)} max sampled VmRSS`
  );
}

// ---------------------------------------------------------------------------------------------------------
// Data

/**
 * Writes `size` bytes to `file` and returns their MD5: block by block (16 MiB, whole MiB), each filled by
 * `fill(block, offset)` and hashed while the previous one is being written (two buffers).
 */
export async function writeFileHashed(
  file: string,
  size: number,
  fill: (block: Buffer, offset: number) => void | Promise<void>,
): Promise<string> {
  const blockSize = 16 * MiB;
  const buffers = [Buffer.allocUnsafe(blockSize), Buffer.allocUnsafe(blockSize)];
  const md5 = createHash('md5');
  const handle = await open(file, 'wx');
  try {
    let writing: Promise<unknown> = Promise.resolve();
    for (let offset = 0, i = 0; offset < size; offset += blockSize, i++) {
      const block = buffers[i % 2]!.subarray(0, Math.min(blockSize, size - offset));
      await fill(block, offset);
      md5.update(block);
      await writing;
      writing = handle.write(block, 0, block.length, offset).then(({ bytesWritten }) => {
        if (bytesWritten !== block.length) throw new Error('short write');
      });
    }
    await writing;
  } finally {
    await handle.close();
  }
  return md5.digest('hex');
}

/** Writes `size` bytes of crypto-random data (no chunk repeats, none is zero) to `file`; returns their MD5. */
export function generateRandomFile(file: string, size: number): Promise<string> {
  return writeFileHashed(file, size, (block) => void randomFillSync(block));
}

/**
 * The baseline: `cp source copy && sync` on the same disk (the copy is dropped after each run). Its time
 * varies a lot on this VM, from run to run and over minutes (page cache pages that are new to the guest
 * cost a host fault on first touch, and the disk is shared with other guests: 1.4 to 3.2 s for 2 GiB within
 * one bench run on the dev VM). So it is run a few times before the first step and once more right before
 * every run of a repeated step, and a step's ratio is its median against the median of all these runs.
 */
export class DurableCopyBaseline {
  readonly runs: number[] = [];

  /**
   * With `uncachedSource`, the source is evicted from the page cache before each run (GNU dd's
   * `iflag=nocache count=0` drops a whole file's clean pages, no root needed), so `cp` reads it from the
   * disk: the same disk work as a download or a replication, whose bytes come from chunks the fs driver
   * wrote past the page cache. Without it, `cp` reads the bytes from memory and only writes.
   */
  constructor(
    private readonly source: string,
    private readonly copy: string,
    private readonly options: { readonly uncachedSource?: boolean } = {},
  ) {}

  /** Runs the copy once; returns its seconds. */
  async measure(): Promise<number> {
    await flushDirtyPages();
    if (this.options.uncachedSource === true) {
      await run('dd', [`if=${this.source}`, 'iflag=nocache', 'count=0', 'status=none']);
    }
    const started = performance.now();
    await run('sh', ['-c', 'cp -- "$1" "$2" && sync', 'sh', this.source, this.copy], {
      signal: interrupted.signal,
    });
    const elapsed = seconds(started);
    this.runs.push(elapsed);
    await rm(this.copy);
    await flushDirtyPages();
    return elapsed;
  }

  /** The median of every run so far. */
  get seconds(): number {
    return median(this.runs);
  }

  describe(): string {
    return `median ${fmt(this.seconds, 2)} s of ${this.runs.length} runs (${formatRuns(this.runs)})`;
  }
}

/**
 * A repeated step's report: the run of median time (its RSS and CPU figures), with `seconds` the median of
 * all runs' and `runs` each run's seconds in order.
 */
export function medianRun<T extends { readonly seconds: number }>(
  runs: readonly T[],
): T & { runs: number[] } {
  const sorted = [...runs].sort((a, b) => a.seconds - b.seconds);
  const middle = sorted[Math.floor((sorted.length - 1) / 2)]!;
  return { ...middle, seconds: median(runs.map((run) => run.seconds)), runs: runs.map((run) => run.seconds) };
}

/**
 * Each run's ratio to the baseline run made just before it, and their median: the comparison least moved
 * by the disk's drift over minutes, shown beside the ratio to the median of all baseline runs.
 */
export function pairedRatios(
  cpBefore: readonly number[],
  runs: readonly number[],
  baseline = 'the cp run',
): string {
  const ratios = runs.map((secs, i) => cpBefore[i]! / secs);
  return `each against ${baseline} just before it: ${ratios.map((r) => fmt(r, 2)).join(', ')} (median ${fmt(median(ratios), 2)})`;
}

/** A line per repeated step of a report: every run's seconds, and each run against the cp run before it. */
export function runLines(
  rows: ReadonlyArray<{ step: string; runs?: readonly number[]; cpBefore?: readonly number[] }>,
): string[] {
  return rows.flatMap(({ step, runs, cpBefore }) =>
    runs === undefined
      ? []
      : [
          `Runs of "${step}": ${formatRuns(runs)} (median in the table)` +
            (cpBefore ? `; ${pairedRatios(cpBefore, runs)}.` : '.'),
        ],
  );
}

/** "1.52, 1.61, 2.03 s" */
export function formatRuns(runs: readonly number[]): string {
  return `${runs.map((s) => fmt(s, 2)).join(', ')} s`;
}

/** Fails early if `dir` has less than `needed` bytes free. */
export async function checkFreeSpace(dir: string, needed: number, what: string): Promise<void> {
  const disk = await statfs(dir);
  const free = disk.bavail * disk.bsize;
  if (free < needed) {
    throw new Error(`${dir} has ${fmt(free / GiB)} GiB free; ${what} needs about ${fmt(needed / GiB)} GiB`);
  }
}

// ---------------------------------------------------------------------------------------------------------
// Ferry servers as child processes

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** SIGTERM (a graceful stop), SIGKILL after 10 s; resolves once the process has exited. */
export function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

export interface FerryProcess<T> {
  readonly pid: number;
  /** What `ready` found in the output. */
  readonly info: T;
  /** Stops the process (once); also run by the cleanup. */
  stop(): Promise<void>;
}

/**
 * Runs `ferry <args>` from the build as `node [nodeFlags] dist/cli/main.js <args>`, as
 * `bin/ferry.js` and `npm start` run it, with no `npx` or TypeScript loader between us and the server (`npm
 * run bench` builds first), so the child's pid is the server's and its memory
 * and CPU are measured alone. Resolves once `ready(stdout, stderr)` returns something (within 60 s). The
 * output goes on to `log` if given, else it is drained. The process is stopped by `cleanup` at the latest.
 */
export async function startFerryProcess<T>(options: {
  args: string[];
  nodeFlags?: string[];
  ready: (stdout: string, stderr: string) => T | undefined;
  cleanup: Cleanup;
  log?: string;
}): Promise<FerryProcess<T>> {
  if (!existsSync(join(REPO_ROOT, 'dist', 'cli', 'main.js'))) {
    throw new Error('dist/cli/main.js is missing: run npm run build first (npm run bench does)');
  }
  const child = spawn(process.execPath, [...(options.nodeFlags ?? []), 'dist/cli/main.js', ...options.args], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stop = options.cleanup.add(() => stopChild(child));
  let log: WriteStream | undefined;
  if (options.log !== undefined) {
    log = createWriteStream(options.log, { flags: 'a' });
    child.once('exit', () => log?.end());
  }
  let stdout = '';
  let stderr = '';
  try {
    const info = await new Promise<T>((resolve, reject) => {
      const timeout = setTimeout(() => reject(new Error(`Ferry did not start in 60 s:\n${stderr}`)), 60_000);
      let found: T | undefined;
      const check = () => {
        if (found !== undefined) return;
        found = options.ready(stdout, stderr);
        if (found !== undefined) {
          clearTimeout(timeout);
          resolve(found);
        }
      };
      child.once('exit', (code, signal) => {
        clearTimeout(timeout);
        reject(new Error(`Ferry exited (${code ?? signal}) before it was ready:\n${stderr}`));
      });
      child.stdout.setEncoding('utf8').on('data', (text: string) => {
        log?.write(text);
        if (found === undefined) stdout += text;
        check();
      });
      child.stderr.setEncoding('utf8').on('data', (text: string) => {
        log?.write(text);
        if (found === undefined) stderr += text;
        check();
      });
    });
    if (child.pid === undefined) throw new Error('Ferry has no pid');
    return { pid: child.pid, info, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

// ---------------------------------------------------------------------------------------------------------
// API calls

/** A region's API and the token to call it with. */
export interface Endpoint {
  readonly url: string;
  readonly token: string;
}

/** A JSON request to `endpoint` (with its token, if it has one: Glance's standalone APIs take none). */
export async function apiJson(
  endpoint: { readonly url: string; readonly token?: string },
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(endpoint.url + path, {
    signal: interrupted.signal,
    method,
    headers: {
      ...(endpoint.token === undefined ? {} : { 'x-auth-token': endpoint.token }),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return {
    status: response.status,
    body: text.length > 0 ? (JSON.parse(text) as Record<string, unknown>) : {},
  };
}

/** Creates a private raw image; returns its id. */
export async function createImage(endpoint: Endpoint, name: string): Promise<string> {
  const created = await apiJson(endpoint, 'POST', '/v2/images', {
    name,
    disk_format: 'raw',
    container_format: 'bare',
    visibility: 'private',
  });
  if (created.status !== 201)
    throw new Error(`create answered ${created.status}: ${JSON.stringify(created.body)}`);
  return String(created.body.id);
}

/** Throws unless the image is active with this size and MD5 `checksum`. */
export async function checkImage(endpoint: Endpoint, id: string, size: number, md5: string): Promise<void> {
  const answer = await apiJson(endpoint, 'GET', `/v2/images/${id}`);
  const image = answer.body;
  if (answer.status !== 200 || image.status !== 'active' || image.size !== size || image.checksum !== md5) {
    throw new Error(
      `image ${id} at ${endpoint.url} mismatch: HTTP ${answer.status}, status ${String(image.status)}, ` +
        `size ${String(image.size)} (want ${size}), checksum ${String(image.checksum)} (want ${md5})`,
    );
  }
}

/**
 * `curl -T file` into the image; resolves once the server answered 204. A stock client, as the baseline
 * is a stock `cp`: on the 2-core dev VM a Node client streaming the file cost 1.1-2.8 s of CPU per 2 GiB,
 * taken from the server on the same two cores; curl costs ~0.6 s.
 */
export async function uploadFile(endpoint: Endpoint, id: string, file: string): Promise<void> {
  const { stdout } = await run(
    'curl',
    [
      '-sS',
      '-o',
      '/dev/null',
      '-w',
      '%{http_code}',
      '-X',
      'PUT',
      '-T',
      file,
      '-H',
      `x-auth-token: ${endpoint.token}`,
      '-H',
      'content-type: application/octet-stream',
      `${endpoint.url}/v2/images/${id}/file`,
    ],
    { signal: interrupted.signal },
  );
  if (stdout.trim() !== '204') throw new Error(`upload answered ${stdout.trim()}`);
}

/**
 * GET of the image's data. `file` undefined: the bytes are counted and dropped. Otherwise they are written
 * to `file`; `hash` computes their MD5 as they arrive (else `md5` is undefined: hash the file afterwards
 * with `md5OfFile`), and `durable` fsyncs the file before resolving, as the baseline's `sync` does.
 */
export async function download(
  endpoint: Endpoint,
  id: string,
  file: string | undefined,
  options: { hash: boolean; durable: boolean } = { hash: true, durable: false },
): Promise<{ md5: string | undefined; bytes: number }> {
  const response = await new Promise<IncomingMessage>((resolve, reject) => {
    const request = httpRequest(`${endpoint.url}/v2/images/${id}/file`, {
      signal: interrupted.signal,
      headers: { 'x-auth-token': endpoint.token },
    });
    request.once('response', resolve);
    request.once('error', reject);
    request.end();
  });
  if (response.statusCode !== 200) throw new Error(`download answered ${response.statusCode}`);
  const expected = Number(response.headers['content-length']);
  let bytes = 0;
  if (file === undefined) {
    for await (const piece of response as AsyncIterable<Buffer>) bytes += piece.length;
    if (expected !== bytes) throw new Error(`Content-Length ${expected} but ${bytes} bytes arrived`);
    return { md5: undefined, bytes };
  }
  const md5 = options.hash ? createHash('md5') : undefined;
  const output = createWriteStream(file, { highWaterMark: MiB, flush: options.durable });
  await pipeline(
    response,
    async function* (source: AsyncIterable<Buffer>) {
      for await (const piece of source) {
        md5?.update(piece);
        bytes += piece.length;
        yield piece;
      }
    },
    output,
  );
  if (expected !== bytes) throw new Error(`Content-Length ${expected} but ${bytes} bytes arrived`);
  return { md5: md5?.digest('hex'), bytes };
}

/**
 * `curl -o file URL && sync`: the image's data into `file` by a stock HTTP client, made durable as the
 * baseline's `cp && sync` makes its copy. Returns the bytes written.
 */
export async function curlDownload(endpoint: Endpoint, id: string, file: string): Promise<number> {
  await run(
    'sh',
    [
      '-c',
      'curl -sS --fail -o "$1" -H "x-auth-token: $2" "$3" && sync',
      'sh',
      file,
      endpoint.token,
      `${endpoint.url}/v2/images/${id}/file`,
    ],
    { signal: interrupted.signal },
  );
  return (await stat(file)).size;
}

/**
 * Downloads image `id` with curl and drops the bytes (`-o /dev/null`): what the server delivers to a stock
 * client, without the client's own file writes. Resolves the bytes curl received.
 */
export async function curlDownloadDiscard(endpoint: Endpoint, id: string): Promise<number> {
  const { stdout } = await run(
    'curl',
    [
      '-sS',
      '--fail',
      '-o',
      '/dev/null',
      '-w',
      '%{size_download}',
      '-H',
      `x-auth-token: ${endpoint.token}`,
      `${endpoint.url}/v2/images/${id}/file`,
    ],
    { signal: interrupted.signal },
  );
  return Number(stdout);
}

/** The MD5 of `file`'s bytes (untimed checks). */
export async function md5OfFile(file: string): Promise<string> {
  const md5 = createHash('md5');
  for await (const piece of createReadStream(file, { highWaterMark: MiB }) as AsyncIterable<Buffer>)
    md5.update(piece);
  return md5.digest('hex');
}

// ---------------------------------------------------------------------------------------------------------
// Report

export function fmt(value: number, digits = 1): string {
  return value.toFixed(digits);
}

export function metOrNot(ok: boolean): string {
  return ok ? 'met' : 'NOT met';
}

/** A markdown table with padded columns; `align` is 'l' or 'r' per column. */
export function markdownTable(header: string[], align: Array<'l' | 'r'>, rows: string[][]): string[] {
  const widths = header.map((title, i) =>
    Math.max(3, title.length, ...rows.map((row) => (row[i] ?? '').length)),
  );
  const line = (cells: string[]) =>
    `| ${cells.map((cell, i) => (align[i] === 'r' ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!))).join(' | ')} |`;
  const rule = `| ${widths.map((width, i) => (align[i] === 'r' ? `${'-'.repeat(width - 1)}:` : '-'.repeat(width))).join(' | ')} |`;
  return [line(header), rule, ...rows.map(line)];
}

export async function machineLine(dir: string): Promise<string> {
  const cpuinfo = await readFile('/proc/cpuinfo', 'utf8');
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? 'unknown';
  const nproc = (await run('nproc')).stdout.trim();
  const disk = await statfs(dir);
  const free = (disk.bavail * disk.bsize) / GiB;
  const total = (disk.blocks * disk.bsize) / GiB;
  return (
    `Machine: nproc ${nproc}, CPU "${model}", ${fmt(os.totalmem() / GiB, 0)} GiB RAM, node ${process.version}, ` +
    `${os.type()} ${os.release()}; scratch ${dir}: ${fmt(free)} GiB free of ${fmt(total)} GiB`
  );
}

/** CPU seconds (user + system) of each live thread of `pid`, by thread id. */
async function threadCpuSeconds(pid: number): Promise<Map<number, number>> {
  const result = new Map<number, number>();
  for (const entry of await readdir(`/proc/${pid}/task`).catch(() => [] as string[])) {
    try {
      const stat = await readFile(`/proc/${pid}/task/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      result.set(Number(entry), (Number(fields[11]) + Number(fields[12])) / 100);
    } catch {
      // the thread ended meanwhile
    }
  }
  return result;
}

/**
 * Per-thread CPU of the server during a step, sampled every 200 ms so that threads ending within the step
 * (the ingest's two hash workers) are still counted, up to their last sample. Node names every thread
 * "node", so threads are told apart by when they appeared: the main thread (tid = pid), threads started
 * during the step (the hash workers), and the rest (libuv pool, V8 platform threads).
 */
export class ThreadCpuMonitor {
  private start = new Map<number, number>();
  private last = new Map<number, number>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly pid: number) {}

  private async sample(): Promise<void> {
    for (const [tid, cpu] of await threadCpuSeconds(this.pid)) this.last.set(tid, cpu);
  }

  async begin(): Promise<void> {
    this.start = await threadCpuSeconds(this.pid);
    this.last = new Map(this.start);
    this.timer = setInterval(() => void this.sample(), 200);
    this.timer.unref();
  }

  /** "main 4.10, new threads 3.02 + 2.95, other threads 2.50 (top 0.70, 0.69, …)". */
  async end(): Promise<string> {
    clearInterval(this.timer);
    await this.sample();
    let main = 0;
    const created: number[] = [];
    const others: number[] = [];
    for (const [tid, cpu] of this.last) {
      const used = cpu - (this.start.get(tid) ?? 0);
      if (tid === this.pid) main = used;
      else if (!this.start.has(tid)) created.push(used);
      else if (used > 0) others.push(used);
    }
    others.sort((a, b) => b - a);
    const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);
    return (
      `main ${fmt(main, 2)}, threads started in the step ${created.map((v) => fmt(v, 2)).join(' + ') || '0'}, ` +
      `other threads ${fmt(sum(others), 2)} (${others
        .slice(0, 6)
        .map((v) => fmt(v, 2))
        .join(', ')})`
    );
  }
}
