// An 8 GiB sparse raw image (64 random 1 MiB chunks scattered in zeros) streamed through the API to a Ferry
// server running as its own process: the image becomes active with the right size and MD5, only the 64 MiB of
// non-zero chunks are stored, and the server's peak RSS stays small (constant-memory ingest).
import { ferryArgs } from '../helpers/ferry-command.js';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes, randomInt } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { makeTempDir } from '../helpers/tmp.js';
import { ownStackSkip } from '../helpers/stack.js';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const IMAGE_SIZE = 8 * GiB;
const CHUNKS = IMAGE_SIZE / MiB;
const RANDOM_CHUNKS = 64;
const PEAK_RSS_LIMIT_MIB = 200;
const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));

interface FerryProcess {
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
 * `ferry local --regions north-1` on a free port, spawned from the build so the child's pid is the server's
 * (no npx/tsx wrapper process in between) and its memory is the server's own.
 */
async function startFerry(dataDir: string): Promise<FerryProcess> {
  const port = await freePort();
  const env = { ...process.env };
  delete env.NODE_TEST_CONTEXT; // the server is not a test file of this run
  const child = spawn(
    process.execPath,
    ferryArgs('local', '--data', dataDir, '--port', String(port), '--regions', 'north-1'),
    { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
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
    child.stdout.resume();
    assert.ok(child.pid !== undefined);
    return { pid: child.pid, url, token, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

async function vmHwmMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const match = /^VmHWM:\s+(\d+) kB/m.exec(status);
  assert.ok(match !== null, `no VmHWM in /proc/${pid}/status`);
  return Number(match[1]) / 1024;
}

/** Sum of the sizes of all files under `dir`. */
async function treeBytes(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) total += await treeBytes(path);
    else if (entry.isFile()) total += (await stat(path)).size;
  }
  return total;
}

/**
 * The image as a stream of 1 MiB buffers: zeros, except one distinct random chunk at a random place in each
 * of RANDOM_CHUNKS equal stretches. `md5` is fed in stream order as it is generated.
 */
function sparseImage(md5: ReturnType<typeof createHash>): Readable {
  const stretch = CHUNKS / RANDOM_CHUNKS;
  const randomAt = new Set(Array.from({ length: RANDOM_CHUNKS }, (_, i) => i * stretch + randomInt(stretch)));
  const zero = Buffer.alloc(MiB); // never written to, so it can be pushed again and again
  let index = 0;
  return new Readable({
    highWaterMark: 4 * MiB,
    read() {
      for (;;) {
        if (index === CHUNKS) {
          this.push(null);
          return;
        }
        const chunk = randomAt.has(index) ? randomBytes(MiB) : zero;
        index++;
        md5.update(chunk);
        if (!this.push(chunk)) return;
      }
    },
  });
}

async function json(server: FerryProcess, method: string, path: string, body?: unknown) {
  const response = await fetch(server.url + path, {
    method,
    headers: { 'x-auth-token': server.token, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

async function upload(server: FerryProcess, id: string, data: Readable, size: number): Promise<void> {
  const request = httpRequest(`${server.url}/v2/images/${id}/file`, {
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
  const sent = pipeline(data, request);
  sent.catch(() => undefined); // an early answer explains a failure better than EPIPE
  const response = await answered;
  let text = '';
  for await (const piece of response) text += String(piece);
  assert.equal(response.statusCode, 204, text);
  await sent;
}

test(
  'an 8 GiB sparse raw image uploads in constant memory and stores only its non-zero chunks',
  { timeout: 240_000, skip: ownStackSkip() },
  async (t) => {
    // This hook is registered before makeTempDir's, so the server stops before its data dir is removed.
    const running: { server?: FerryProcess } = {};
    t.after(() => running.server?.stop());
    const dataDir = await makeTempDir(t, 'ferry-sparse-');
    const server = (running.server = await startFerry(dataDir));

    const created = await json(server, 'POST', '/v2/images', {
      name: 'sparse',
      disk_format: 'raw',
      container_format: 'bare',
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const id = String(created.body.id);

    const md5 = createHash('md5');
    const started = performance.now();
    await upload(server, id, sparseImage(md5), IMAGE_SIZE);
    const elapsed = (performance.now() - started) / 1000;
    const peakMiB = await vmHwmMiB(server.pid);
    const stored = await treeBytes(join(dataDir, 'north-1', 'blobs'));
    t.diagnostic(
      `upload of 8 GiB: ${elapsed.toFixed(1)} s (${(IMAGE_SIZE / MiB / elapsed).toFixed(0)} MiB/s); ` +
        `server VmHWM ${peakMiB.toFixed(0)} MiB; stored ${(stored / MiB).toFixed(2)} MiB under blobs/`,
    );

    const image = (await json(server, 'GET', `/v2/images/${id}`)).body;
    assert.equal(image.status, 'active');
    assert.equal(image.size, IMAGE_SIZE);
    assert.equal(image.checksum, md5.digest('hex'));
    assert.ok(
      stored >= RANDOM_CHUNKS * MiB && stored <= 70 * MiB,
      `stored ${stored} bytes under blobs/, expected 64-70 MiB (zero chunks are not stored)`,
    );
    assert.ok(
      peakMiB < PEAK_RSS_LIMIT_MIB,
      `server VmHWM ${peakMiB.toFixed(0)} MiB, limit ${PEAK_RSS_LIMIT_MIB}`,
    );
  },
);
