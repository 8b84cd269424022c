// Image data goes through the CLI in constant memory: a 1 GiB upload and download each keep the `ferry`
// process's peak RSS (VmHWM) under 150 MiB.
import assert from 'node:assert/strict';
import { readFile, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { startTestDeployment } from '../../helpers/deployment.js';
import { pseudoRandom } from '../../helpers/replication.js';
import { createCliSession, finished, type CliSession, type RunResult } from './cli-session.js';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const RSS_LIMIT = 150 * MiB;

/** Runs `ferry args...` and samples its peak resident memory (VmHWM) until it exits. */
async function runMeasured(cli: CliSession, args: string[]): Promise<RunResult & { peakBytes: number }> {
  const child = cli.start(args);
  child.stdin.end();
  const done = finished(child);
  let peakBytes = 0;
  const sample = async () => {
    const status = await readFile(`/proc/${child.pid}/status`, 'utf8').catch(() => '');
    const kib = /VmHWM:\s+(\d+) kB/.exec(status)?.[1];
    if (kib) peakBytes = Math.max(peakBytes, Number(kib) * 1024);
  };
  const timer = setInterval(() => void sample(), 50);
  const result = await done.finally(() => clearInterval(timer));
  return { ...result, peakBytes };
}

test('a 1 GiB upload and download through the CLI stay under 150 MiB RSS', async (t) => {
  const d = await startTestDeployment(t, ['north-1']);
  const cli = await createCliSession(t, d);
  // 1 GiB: 16 MiB of random data, then a hole (the CLI reads every byte all the same).
  const file = join(cli.dir, 'big.raw');
  await writeFile(file, pseudoRandom(16 * MiB, 11));
  await truncate(file, GiB);

  const upload = await runMeasured(cli, [
    'image',
    'create',
    'big',
    '--file',
    file,
    '--disk-format',
    'raw',
    '-o',
    'json',
  ]);
  assert.equal(upload.code, 0, upload.stderr);
  const image = JSON.parse(upload.stdout);
  assert.equal(image.size, GiB);
  assert.equal(image.status, 'active');
  assert.ok(upload.peakBytes > 0, 'sampled');
  assert.ok(upload.peakBytes < RSS_LIMIT, `upload peak RSS ${(upload.peakBytes / MiB).toFixed(0)} MiB`);
  t.diagnostic(`upload peak RSS ${(upload.peakBytes / MiB).toFixed(1)} MiB`);

  const target = join(cli.dir, 'back.raw');
  const download = await runMeasured(cli, ['image', 'download', image.id, '--file', target, '-o', 'json']);
  assert.equal(download.code, 0, download.stderr);
  const result = JSON.parse(download.stdout);
  assert.equal(result.bytes, GiB);
  assert.equal(result.checksum, image.checksum, 'the CLI checked the MD5');
  assert.equal((await stat(target)).size, GiB);
  assert.ok(download.peakBytes < RSS_LIMIT, `download peak RSS ${(download.peakBytes / MiB).toFixed(0)} MiB`);
  t.diagnostic(`download peak RSS ${(download.peakBytes / MiB).toFixed(1)} MiB`);
});
