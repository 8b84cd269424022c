/**
 * Two standalone OpenStack Glance APIs on loopback (Debian's `glance-api`, SQLite, file store, no Keystone),
 * started and stopped through scripts/glance-bench.sh, and the Glance side of the bench's rows: an upload
 * of the image by `curl -T`, and Glance's fastest A→B path, a download from A piped straight into an upload
 * to B (`curl | curl`: no temporary file, the cheapest stock clients).
 *
 * Glance needs no token here (the pipeline has no auth filter), and writes image data with buffered I/O,
 * never fsync'd: its rows are not durable, Ferry's are.
 * @module
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { apiJson, freePort, interrupted, REPO_ROOT, run } from './lib.js';
import type { Cleanup } from './lib.js';

const SCRIPT = join(REPO_ROOT, 'scripts', 'glance-bench.sh');

export interface GlanceApi {
  readonly name: string;
  readonly url: string;
  /** The glance-api process and the worker it forked (CPU is counted over both). */
  readonly pids: readonly number[];
}

/**
 * Makes sure `glance-api` is installed (installing it from Debian through the script when it is not, which
 * needs root and network to the Debian mirror); resolves undefined when it is usable, else why not.
 */
export async function glanceUnavailable(): Promise<string | undefined> {
  try {
    await run('bash', [SCRIPT, 'install'], { signal: interrupted.signal, maxBuffer: 16 * 1024 * 1024 });
    return undefined;
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr?.trim();
    return `glance-api could not be installed: ${stderr || (error as Error).message}`.split('\n')[0];
  }
}

/** Pids of `pid` and of every process below it (a Glance API's parent forks its worker). */
async function processTree(pid: number): Promise<number[]> {
  const parents = new Map<number, number>();
  for (const entry of await readdir('/proc')) {
    const child = Number(entry);
    if (!Number.isInteger(child)) continue;
    try {
      const stat = await readFile(`/proc/${child}/stat`, 'utf8');
      parents.set(child, Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // gone meanwhile
    }
  }
  const tree = [pid];
  for (let i = 0; i < tree.length; i++) {
    for (const [child, parent] of parents) if (parent === tree[i]) tree.push(child);
  }
  return tree;
}

/**
 * Starts Glance APIs named `names` on free ports with their state under `dir`; each is stopped by `cleanup`
 * at the latest. The worker a Glance API forks is found once it answers (the script waits for that).
 */
export async function startGlances(dir: string, names: string[], cleanup: Cleanup): Promise<GlanceApi[]> {
  const apis: GlanceApi[] = [];
  for (const name of names) {
    const port = await freePort();
    // Added before the start: a start cut short by an error or Ctrl-C is stopped too (stop is a no-op when
    // nothing runs).
    cleanup.add(async () => void (await run('bash', [SCRIPT, 'stop', dir, name]).catch(() => undefined)));
    const { stdout } = await run('bash', [SCRIPT, 'start', dir, name, String(port)], {
      signal: interrupted.signal,
    });
    const pid = Number(stdout.trim().split('\n').pop());
    if (!Number.isInteger(pid)) throw new Error(`glance-bench.sh start printed no pid: ${stdout}`);
    apis.push({ name: `glance-${name}`, url: `http://127.0.0.1:${port}`, pids: await processTree(pid) });
  }
  return apis;
}

export async function createGlanceImage(api: GlanceApi, name: string): Promise<string> {
  const created = await apiJson(api, 'POST', '/v2/images', {
    name,
    disk_format: 'raw',
    container_format: 'bare',
  });
  if (created.status !== 201) {
    throw new Error(`${api.name}: create answered ${created.status}: ${JSON.stringify(created.body)}`);
  }
  return String(created.body.id);
}

/** `curl -T file` into the image, as the Ferry upload row does; resolves once Glance answered 204. */
export async function glanceUpload(api: GlanceApi, id: string, file: string): Promise<void> {
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
      'content-type: application/octet-stream',
      `${api.url}/v2/images/${id}/file`,
    ],
    { signal: interrupted.signal },
  );
  if (stdout.trim() !== '204') throw new Error(`${api.name}: upload answered ${stdout.trim()}`);
}

/**
 * Glance's fastest A→B copy: creates the image in B, then `curl GET A | curl -T - PUT B` (chunked upload,
 * nothing on the client's disk); resolves B's image id once B answered 204.
 */
export async function glanceCopy(from: GlanceApi, id: string, to: GlanceApi, name: string): Promise<string> {
  const copy = await createGlanceImage(to, name);
  const { stdout } = await run(
    'bash',
    [
      '-c',
      'set -o pipefail; curl -sS --fail "$1" | curl -sS -o /dev/null -w "%{http_code}" -X PUT -T - ' +
        '-H "content-type: application/octet-stream" "$2"',
      'bash',
      `${from.url}/v2/images/${id}/file`,
      `${to.url}/v2/images/${copy}/file`,
    ],
    { signal: interrupted.signal },
  );
  if (stdout.trim() !== '204')
    throw new Error(`${to.name}: upload from ${from.name} answered ${stdout.trim()}`);
  return copy;
}

/** Throws unless the image is active with this size and MD5 `checksum`. */
export async function checkGlanceImage(api: GlanceApi, id: string, size: number, md5: string): Promise<void> {
  const { status, body } = await apiJson(api, 'GET', `/v2/images/${id}`);
  if (status !== 200 || body.status !== 'active' || body.size !== size || body.checksum !== md5) {
    throw new Error(
      `${api.name} image ${id} mismatch: HTTP ${status}, status ${String(body.status)}, size ` +
        `${String(body.size)} (want ${size}), checksum ${String(body.checksum)} (want ${md5})`,
    );
  }
}

export async function deleteGlanceImage(api: GlanceApi, id: string): Promise<void> {
  const { status } = await apiJson(api, 'DELETE', `/v2/images/${id}`);
  if (status !== 204) throw new Error(`${api.name}: deleting ${id} answered ${status}`);
}
