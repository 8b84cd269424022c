/**
 * End-to-end throughput benchmark of one Ferry region against a durable `cp` on the same disk.
 *
 *   npm run bench -- [--size-gib N (default 2)] [--dir PATH (scratch folder; default: a temp dir under
 *   os.tmpdir(), which must be on the same disk as the data)]
 *
 * Steps: generate N GiB of random (non-dedupable) data and its MD5 (untimed) → `cp file copy && sync`
 * (timed, the baseline; the copy is dropped) → start `ferry local --regions north-1` as a child process
 * (spawned as `node --import tsx src/cli/main.ts`, so the child pid is the server and its RSS is measured
 * alone) → upload through the API (timed; the image's size and checksum must match) → download through the
 * API into a file on the same disk, without fsync, hashing MD5 on the way (timed; must match) → print a
 * markdown table. The server's peak RSS is its VmHWM (reset through /proc/<pid>/clear_refs before each step)
 * cross-checked by sampling VmRSS every 100 ms. Scratch files and the server go away on every path,
 * Ctrl-C included.
 * @module
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomFillSync } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, open, readFile, rm, statfs, writeFile } from 'node:fs/promises';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { createServer } from 'node:net';
import os from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';

const run = promisify(execFile);
const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
/** Acceptance targets, as fractions of the durable cp's throughput. */
const UPLOAD_TARGET = 0.3;
const DOWNLOAD_TARGET = 0.6;
/** Timed runs of the durable cp baseline; the median is reported. */
const BASELINE_RUNS = 3;
/** Aborted on Ctrl-C / SIGTERM: cuts the HTTP transfer or cp in progress so cleanup doesn't wait for it. */
const interrupted = new AbortController();

// ---------------------------------------------------------------------------------------------------------
// Arguments

interface Options {
  readonly sizeBytes: number;
  readonly dir: string;
}

function parseOptions(): Options {
  const { values } = parseArgs({
    options: {
      'size-gib': { type: 'string', default: '2' },
      dir: { type: 'string' },
    },
    strict: true,
  });
  const sizeGiB = Number(values['size-gib']);
  if (!Number.isFinite(sizeGiB) || sizeGiB <= 0) throw new Error(`--size-gib must be a positive number`);
  // Whole MiB, so every chunk is a full random 1 MiB.
  const sizeBytes = Math.max(1, Math.round(sizeGiB * 1024)) * MiB;
  return { sizeBytes, dir: values.dir ?? os.tmpdir() };
}

// ---------------------------------------------------------------------------------------------------------
// Measuring helpers

function seconds(since: number): number {
  return (performance.now() - since) / 1000;
}

/** Durable writes from earlier steps must not be billed to the next timed step. */
async function flushDirtyPages(): Promise<void> {
  await run('sync');
}

async function procStatusKiB(pid: number, field: 'VmHWM' | 'VmRSS'): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
  if (match === null) throw new Error(`no ${field} in /proc/${pid}/status`);
  return Number(match[1]);
}

/** CPU seconds (user + system) the process used so far, all its threads included. */
async function procCpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  return ticks / 100; // USER_HZ is 100 on Linux
}

/**
 * Peak RSS of one process: VmHWM, reset at `reset()` through clear_refs (Linux ≥ 4.0), and VmRSS sampled
 * every 100 ms as a cross-check.
 */
class RssMonitor {
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
  async peak(): Promise<{ hwmMiB: number; sampledMiB: number; hwmSinceStart: boolean }> {
    const rss = await procStatusKiB(this.pid, 'VmRSS');
    this.maxSampledKiB = Math.max(this.maxSampledKiB, rss);
    const hwm = await procStatusKiB(this.pid, 'VmHWM');
    return { hwmMiB: hwm / 1024, sampledMiB: this.maxSampledKiB / 1024, hwmSinceStart: !this.hwmResettable };
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

// ---------------------------------------------------------------------------------------------------------
// Data

/**
 * Writes `size` bytes of crypto-random data to `file` and returns their MD5. Two 16 MiB buffers: one is
 * filled and hashed while the other is being written.
 */
async function generateRandomFile(file: string, size: number): Promise<string> {
  const blockSize = 16 * MiB;
  const buffers = [Buffer.allocUnsafe(blockSize), Buffer.allocUnsafe(blockSize)];
  const md5 = createHash('md5');
  const handle = await open(file, 'wx');
  try {
    let writing: Promise<unknown> = Promise.resolve();
    for (let offset = 0, i = 0; offset < size; offset += blockSize, i++) {
      const block = buffers[i % 2]!.subarray(0, Math.min(blockSize, size - offset));
      randomFillSync(block);
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

// ---------------------------------------------------------------------------------------------------------
// The Ferry server as a child process

interface FerryServer {
  readonly pid: number;
  readonly url: string;
  readonly token: string;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
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

function stopChild(child: ChildProcess): Promise<void> {
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

/**
 * Starts `ferry local --regions north-1` on a free port. Spawned as `node --import tsx` (not `npx`/`tsx`,
 * which would put a wrapper process between us and the server), so `child.pid` is the server's pid.
 */
async function startFerry(dataDir: string, onChild: (child: ChildProcess) => void): Promise<FerryServer> {
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      'src/cli/main.ts',
      'local',
      '--data',
      dataDir,
      '--port',
      String(port),
      '--regions',
      'north-1',
    ],
    { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  onChild(child);
  const stop = () => stopChild(child);
  let stdout = '';
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
  try {
    const { url, token } = await new Promise<{ url: string; token: string }>((resolve, reject) => {
      const timeout = setTimeout(() => reject(new Error(`Ferry did not start in 60 s:\n${stderr}`)), 60_000);
      child.once('exit', (code, signal) => {
        clearTimeout(timeout);
        reject(new Error(`Ferry exited (${code ?? signal}) before it was ready:\n${stderr}`));
      });
      child.stdout.setEncoding('utf8').on('data', (text: string) => {
        stdout += text;
        const token = /^Token \(valid 7 days, every region\): (\S+)$/m.exec(stdout)?.[1];
        const url = /^\s+north-1\s+(http:\/\/\S+)$/m.exec(stdout)?.[1];
        if (token !== undefined && url !== undefined) {
          clearTimeout(timeout);
          resolve({ url, token });
        }
      });
    });
    child.stdout.resume(); // keep draining (the "Stopping" line)
    if (child.pid === undefined) throw new Error('Ferry has no pid');
    return { pid: child.pid, url, token, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

// ---------------------------------------------------------------------------------------------------------
// API calls

async function apiJson(
  server: FerryServer,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(server.url + path, {
    signal: interrupted.signal,
    method,
    headers: { 'x-auth-token': server.token, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return {
    status: response.status,
    body: text.length > 0 ? (JSON.parse(text) as Record<string, unknown>) : {},
  };
}

async function readBody(response: IncomingMessage): Promise<string> {
  let text = '';
  for await (const piece of response) text += String(piece);
  return text;
}

/** Streams `file` (Content-Length `size`) into the image; resolves with the HTTP status once answered. */
async function uploadFile(server: FerryServer, id: string, file: string, size: number): Promise<number> {
  const request = httpRequest(`${server.url}/v2/images/${id}/file`, {
    signal: interrupted.signal,
    method: 'PUT',
    headers: {
      'x-auth-token': server.token,
      'content-type': 'application/octet-stream',
      'content-length': size,
    },
  });
  const answered = new Promise<IncomingMessage>((resolve, reject) => {
    request.once('response', resolve);
    request.once('error', reject);
  });
  const sent = pipeline(createReadStream(file, { highWaterMark: MiB }), request);
  sent.catch(() => undefined); // awaited below; an early error answer is reported instead
  const response = await answered;
  const body = await readBody(response);
  if (response.statusCode !== 204) throw new Error(`upload answered ${response.statusCode}: ${body}`);
  await sent;
  return response.statusCode;
}

/**
 * Streams the image into `file` (no fsync), hashing MD5 on the way, and returns the MD5 and length of what
 * arrived; with `file` undefined, only counts the bytes and drops them (no hash: the server's side alone).
 */
async function download(
  server: FerryServer,
  id: string,
  file: string | undefined,
): Promise<{ md5: string | undefined; bytes: number }> {
  const response = await new Promise<IncomingMessage>((resolve, reject) => {
    const request = httpRequest(`${server.url}/v2/images/${id}/file`, {
      signal: interrupted.signal,
      headers: { 'x-auth-token': server.token },
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
  const md5 = createHash('md5');
  await pipeline(
    response,
    async function* (source: AsyncIterable<Buffer>) {
      for await (const piece of source) {
        md5.update(piece);
        bytes += piece.length;
        yield piece;
      }
    },
    createWriteStream(file, { highWaterMark: MiB }),
  );
  if (expected !== bytes) throw new Error(`Content-Length ${expected} but ${bytes} bytes arrived`);
  return { md5: md5.digest('hex'), bytes };
}

// ---------------------------------------------------------------------------------------------------------
// Report

interface Row {
  readonly step: string;
  readonly seconds: number;
  readonly rss?: { hwmMiB: number; sampledMiB: number; hwmSinceStart: boolean };
  readonly serverCpu?: number;
  readonly benchCpu?: number;
}

function fmt(value: number, digits = 1): string {
  return value.toFixed(digits);
}

async function machineLine(dir: string): Promise<string> {
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

function printReport(size: number, rows: Row[], machine: string, notes: string[]): void {
  const baseline = rows[0]!;
  const rate = (row: Row) => size / MiB / row.seconds;
  const lines = [
    '',
    `Ferry bench, ${fmt(size / GiB, 2)} GiB of random data, ${new Date().toISOString()}`,
    '',
    '| step | seconds | MiB/s | ratio to durable cp | server peak RSS (MiB) |',
    '| --- | ---: | ---: | ---: | --- |',
    ...rows.map((row) => {
      const rss =
        row.rss === undefined
          ? 'n/a (server not involved)'
          : `${fmt(row.rss.hwmMiB, 0)} VmHWM${row.rss.hwmSinceStart ? ' (since start)' : ''}, ` +
            `${fmt(row.rss.sampledMiB, 0)} max sampled VmRSS`;
      return `| ${row.step} | ${fmt(row.seconds, 2)} | ${fmt(rate(row), 0)} | ${fmt(rate(row) / rate(baseline), 2)} | ${rss} |`;
    }),
    '',
    machine,
  ];
  const upload = rows[1]!;
  const download = rows[2]!;
  const met = (ok: boolean) => (ok ? 'met' : 'NOT met');
  const uploadRatio = rate(upload) / rate(baseline);
  const downloadRatio = rate(download) / rate(baseline);
  lines.push(
    `Targets: upload ≥ ${UPLOAD_TARGET * 100}% of durable cp: ${met(uploadRatio >= UPLOAD_TARGET)} (${fmt(uploadRatio * 100, 0)}%); ` +
      `download ≥ ${DOWNLOAD_TARGET * 100}% of durable cp: ${met(downloadRatio >= DOWNLOAD_TARGET)} (${fmt(downloadRatio * 100, 0)}%)`,
  );
  lines.push('', 'CPU seconds used during each step (user + system, all threads):');
  for (const row of rows.slice(1)) {
    lines.push(
      `  ${row.step.padEnd(48)} server ${fmt(row.serverCpu ?? 0, 2)} s, bench process ${fmt(row.benchCpu ?? 0, 2)} s ` +
        `(wall ${fmt(row.seconds, 2)} s × ${os.availableParallelism()} cores = ${fmt(row.seconds * os.availableParallelism(), 2)} core-s)`,
    );
  }
  lines.push(...notes);
  console.log(lines.join('\n'));
}

function benchCpuSeconds(): number {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1e6;
}

// ---------------------------------------------------------------------------------------------------------
// Main

async function main(): Promise<void> {
  const options = parseOptions();
  const size = options.sizeBytes;
  const scratch = await mkdtemp(join(options.dir, 'ferry-bench-'));
  let child: ChildProcess | undefined;
  let cleaned: Promise<void> | undefined;
  const cleanup = (): Promise<void> =>
    (cleaned ??= (async () => {
      if (child !== undefined) await stopChild(child);
      await rm(scratch, { recursive: true, force: true });
    })());
  const onSignal = (signal: NodeJS.Signals) => {
    console.error(`\n${signal}: stopping the server and removing ${scratch}`);
    interrupted.abort();
    void cleanup().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  try {
    const disk = await statfs(scratch);
    if (disk.bavail * disk.bsize < 3.5 * size) {
      throw new Error(`${scratch} has too little free space for ${fmt(size / GiB, 2)} GiB (need ~3.5×)`);
    }
    const source = join(scratch, 'source.raw');
    console.log(`Scratch: ${scratch}`);
    console.log(`Generating ${fmt(size / GiB, 2)} GiB of random data and its MD5 (untimed)...`);
    let started = performance.now();
    const md5 = await generateRandomFile(source, size);
    console.log(`  done in ${fmt(seconds(started), 2)} s, md5 ${md5}`);
    const rows: Row[] = [];

    // Baseline: durable copy on the same disk. Its time varies a lot on this VM from run to run (page cache
    // pages that are new to the guest cost a host fault on first touch), so it is the median of three.
    const copy = join(scratch, 'copy.raw');
    const copySeconds: number[] = [];
    for (let i = 0; i < BASELINE_RUNS; i++) {
      await flushDirtyPages();
      started = performance.now();
      await run('sh', ['-c', 'cp -- "$1" "$2" && sync', 'sh', source, copy], { signal: interrupted.signal });
      copySeconds.push(seconds(started));
      await rm(copy);
    }
    await flushDirtyPages();
    const baselineSeconds = [...copySeconds].sort((a, b) => a - b)[Math.floor(BASELINE_RUNS / 2)]!;
    console.log(
      `Durable cp + sync: ${copySeconds.map((s) => fmt(s, 2)).join(', ')} s; median ${fmt(baselineSeconds, 2)} s`,
    );
    rows.push({ step: `durable cp + sync (median of ${BASELINE_RUNS})`, seconds: baselineSeconds });

    // Ferry, alone in its own process.
    const server = await startFerry(join(scratch, 'ferry-data'), (spawned) => (child = spawned));
    const rss = new RssMonitor(server.pid);
    try {
      const idleMiB = (await procStatusKiB(server.pid, 'VmRSS')) / 1024;
      console.log(`Ferry pid ${server.pid} at ${server.url}, idle VmRSS ${fmt(idleMiB, 0)} MiB`);
      const created = await apiJson(server, 'POST', '/v2/images', {
        name: 'bench',
        disk_format: 'raw',
        container_format: 'bare',
      });
      if (created.status !== 201)
        throw new Error(`create answered ${created.status}: ${JSON.stringify(created.body)}`);
      const id = String(created.body.id);

      console.log('Upload...');
      await rss.reset();
      let serverCpu = await procCpuSeconds(server.pid);
      let benchCpu = benchCpuSeconds();
      started = performance.now();
      await uploadFile(server, id, source, size);
      rows.push({
        step: 'upload (PUT, stored durably)',
        seconds: seconds(started),
        rss: await rss.peak(),
        serverCpu: (await procCpuSeconds(server.pid)) - serverCpu,
        benchCpu: benchCpuSeconds() - benchCpu,
      });
      const image = (await apiJson(server, 'GET', `/v2/images/${id}`)).body;
      if (image.status !== 'active' || image.size !== size || image.checksum !== md5) {
        throw new Error(
          `uploaded image mismatch: status ${String(image.status)}, size ${String(image.size)} (want ${size}), ` +
            `checksum ${String(image.checksum)} (want ${md5})`,
        );
      }
      console.log(`  verified: active, size ${size}, checksum ${md5}`);
      await flushDirtyPages();

      console.log('Download...');
      const target = join(scratch, 'download.raw');
      await rss.reset();
      serverCpu = await procCpuSeconds(server.pid);
      benchCpu = benchCpuSeconds();
      started = performance.now();
      const downloaded = await download(server, id, target);
      rows.push({
        step: 'download (GET → file, no fsync, MD5 on the way)',
        seconds: seconds(started),
        rss: await rss.peak(),
        serverCpu: (await procCpuSeconds(server.pid)) - serverCpu,
        benchCpu: benchCpuSeconds() - benchCpu,
      });
      if (downloaded.bytes !== size || downloaded.md5 !== md5) {
        throw new Error(`download mismatch: ${downloaded.bytes} bytes, md5 ${downloaded.md5} (want ${md5})`);
      }
      console.log(`  verified: ${downloaded.bytes} bytes, md5 ${downloaded.md5}`);
      await rm(target);
      await flushDirtyPages();

      // Not an acceptance row: the same download dropped on arrival without hashing, which leaves out the
      // client's MD5 and file writes (they share the 2 cores with the server) to show the server's side.
      console.log('Download, discarded (diagnostic)...');
      await rss.reset();
      serverCpu = await procCpuSeconds(server.pid);
      benchCpu = benchCpuSeconds();
      started = performance.now();
      const discarded = await download(server, id, undefined);
      rows.push({
        step: 'diagnostic: download → discard, no client MD5',
        seconds: seconds(started),
        rss: await rss.peak(),
        serverCpu: (await procCpuSeconds(server.pid)) - serverCpu,
        benchCpu: benchCpuSeconds() - benchCpu,
      });
      if (discarded.bytes !== size) throw new Error(`discarded download: ${discarded.bytes} bytes`);

      printReport(size, rows, await machineLine(scratch), [
        '',
        `Server idle VmRSS before the upload: ${fmt(idleMiB, 0)} MiB. Page cache warm: the source file and the ` +
          'stored chunks were written just before they are read.',
      ]);
    } finally {
      rss.stop();
    }
  } finally {
    await cleanup();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
