// Durability of replication across process deaths: a destination killed with SIGKILL mid-transfer resumes
// from what it stored, and a source that goes away for a while is retried until the job completes.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { api } from '../../helpers/deployment.js';
import { startRegionProcesses, type RegionProcesses } from '../../helpers/region-processes.js';
import { pseudoRandom, startReplication, uploadImage, waitForJobUntil } from '../../helpers/replication.js';
import type { JobView } from '../../../src/api/schemas/job.js';
import { packFiles, storedChunkDigests } from '../../helpers/stored-chunks.js';
import { openDatabase } from '../../../src/store/db.js';
import { join } from 'node:path';
import { ownStackSkip } from '../../helpers/stack.js';

const MiB = 1024 * 1024;
const SETTINGS = {
  replication: { leaseMs: 3_000, pollMs: 100, retryBaseMs: 300, bandwidthLimit: 12 * MiB },
};

async function sentBytes(p: RegionProcesses): Promise<number> {
  const usage = await api(p.url('north-1'), p.demo.token, 'GET', '/v1/usage/transfer');
  return usage.body.usage.reduce((sum: number, row: { bytes: number }) => sum + row.bytes, 0);
}

/**
 * The bytes the source has metered as sent, once the count stops moving: it meters every 500 ms, so bytes
 * sent before a kill would otherwise be counted as sent after the restart.
 */
async function settledSentBytes(p: RegionProcesses): Promise<number> {
  let sent = await sentBytes(p);
  for (let settled = false; !settled;) {
    await new Promise((resolve) => setTimeout(resolve, 700));
    const now = await sentBytes(p);
    settled = now === sent;
    sent = now;
  }
  return sent;
}

/** Polls the job in north-1 until `done` says so (90 s at most). */
function waitUntil(p: RegionProcesses, jobId: string, done: (job: JobView) => boolean): Promise<JobView> {
  return waitForJobUntil(p.url('north-1'), p.demo.token, jobId, done, 90_000);
}

async function download(p: RegionProcesses, region: string, id: string): Promise<Buffer> {
  const response = await fetch(`${p.url(region)}/v2/images/${id}/file`, {
    headers: { 'x-auth-token': p.demo.token },
  });
  return Buffer.from(await response.arrayBuffer());
}

test('a destination killed with SIGKILL mid-transfer resumes after restart without resending what it stored', async (t) => {
  const p = await startRegionProcesses(t, ['north-1', 'south-1'], SETTINGS);
  const data = pseudoRandom(48 * MiB, 99);
  const imageId = await uploadImage(p, p.demo.token, 'north-1', data, { name: 'big' });
  const jobId = await startReplication(p.url('north-1'), p.demo.token, imageId);

  const before = await waitUntil(p, jobId, (job) => job.bytes_transferred >= 16 * MiB);
  assert.equal(before.status, 'RUNNING');
  await p.kill('south-1', 'SIGKILL');
  const sentBeforeRestart = await settledSentBytes(p);
  assert.ok(sentBeforeRestart < data.length, 'killed before the end');
  const meanwhile = (await api(p.url('north-1'), p.demo.token, 'GET', `/v1/cloudimages/job/${jobId}`)).body;
  assert.equal(meanwhile.status, 'RUNNING', 'the job waits for its destination');
  assert.equal(meanwhile.bytes_per_second, 0, 'no rate while the destination is down');
  assert.equal(meanwhile.eta_seconds, null, 'no ETA while the destination is down');

  await p.start('south-1');
  const job = await waitUntil(p, jobId, (j) => ['SUCCESS', 'FAIL', 'CANCELLED'].includes(j.status));
  assert.equal(job.status, 'SUCCESS', JSON.stringify(job));
  const sentAfterRestart = (await sentBytes(p)) - sentBeforeRestart;
  t.diagnostic(
    `sent before the kill: ${sentBeforeRestart} bytes; after the restart: ${sentAfterRestart} bytes`,
  );
  assert.ok(
    sentAfterRestart > 0 && sentAfterRestart < data.length - 8 * MiB,
    'the restart resumed, it did not start over',
  );
  assert.ok((job.attempts ?? 0) >= 2, 'a second run finished the job');
  assert.ok(
    (await download(p, 'south-1', job.entities.image_id!)).equals(data),
    'the replica is byte-identical',
  );
});

test(
  'a destination killed between pack writes and their barrier loses only the unsynced tail, fetches it again, and finishes byte-identical',
  { skip: ownStackSkip() },
  async (t) => {
    // Barriers take half a second longer than the disk's flush: at 12 MiB/s, several MiB are always written
    // but not yet durable, so the kill lands between pack writes and the barrier that would cover them.
    const p = await startRegionProcesses(t, ['north-1', 'south-1'], {
      ...SETTINGS,
      // The folder store's packs and barriers (and so SQLite, in any test stack): what this test reads.
      storage: { blobStore: 'fs', flushDelayMs: 500 },
    });
    const data = pseudoRandom(48 * MiB, 98);
    const imageId = await uploadImage(p, p.demo.token, 'north-1', data, { name: 'big' });
    const jobId = await startReplication(p.url('north-1'), p.demo.token, imageId);
    // Killed at a moment the destination's packs hold at least 4 MiB that no barrier has covered yet.
    const blobs = join(p.dataDir, 'south-1', 'blobs');
    const unsynced = async () =>
      (await packFiles(blobs)).reduce((sum, pack) => sum + pack.size - pack.indexedEnd, 0);
    await waitUntil(p, jobId, (job) => job.bytes_transferred >= 8 * MiB);
    for (let i = 0; (await unsynced()) < 4 * MiB; i++) {
      assert.ok(i < 400, 'the destination never held 4 MiB of unsynced chunks');
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    await p.kill('south-1', 'SIGKILL');
    const sentBeforeRestart = await settledSentBytes(p);

    // What the dead destination left: pack bytes written, of which the index covers only the durable part.
    const packs = await packFiles(blobs);
    const written = packs.reduce((sum, pack) => sum + pack.size, 0);
    const durable = (await storedChunkDigests({ kind: 'fs', root: blobs })).length * MiB;
    const db = await openDatabase({ kind: 'sqlite', file: join(p.dataDir, 'south-1', 'ferry.sqlite') });
    const recorded = (await db.selectFrom('account_chunks').select('digest').execute()).length * MiB;
    await db.destroy();
    t.diagnostic(
      `at the kill: ${written / MiB} MiB written, ${durable / MiB} MiB durable, ${recorded / MiB} MiB recorded`,
    );
    assert.ok(written > durable + MiB, 'chunks were written and not yet covered by a barrier');
    assert.ok(recorded > 0 && recorded <= durable, 'only chunks made durable were recorded as held');

    await p.start('south-1');
    for (const pack of packs) {
      const now = (await packFiles(blobs)).find((candidate) => candidate.file === pack.file);
      assert.equal(now?.size ?? 0, pack.indexedEnd, 'the unsynced tail was cut off at start');
    }
    const job = await waitUntil(p, jobId, (j) => ['SUCCESS', 'FAIL', 'CANCELLED'].includes(j.status));
    assert.equal(job.status, 'SUCCESS', JSON.stringify(job));
    const sentAfterRestart = (await sentBytes(p)) - sentBeforeRestart;
    t.diagnostic(`sent after the restart: ${sentAfterRestart / MiB} MiB of ${data.length / MiB} MiB`);
    assert.ok(sentAfterRestart >= data.length - durable, 'everything not durable was fetched again');
    assert.ok(sentAfterRestart <= data.length - recorded, 'nothing recorded as held was fetched again');
    assert.ok(
      (await download(p, 'south-1', job.entities.image_id!)).equals(data),
      'the replica is byte-identical',
    );
  },
);

test('a source that disappears for a while is retried with backoff and the job still completes', async (t) => {
  const p = await startRegionProcesses(t, ['north-1', 'south-1'], {
    // Small batches: every lane retries its own, as a large image's eight lanes do.
    replication: { ...SETTINGS.replication, maxAttempts: 8, chunksPerRequest: 2 },
  });
  const data = pseudoRandom(24 * MiB, 7);
  const imageId = await uploadImage(p, p.demo.token, 'north-1', data, { name: 'big' });
  const jobId = await startReplication(p.url('north-1'), p.demo.token, imageId);
  await waitUntil(p, jobId, (job) => job.bytes_transferred >= 4 * MiB);
  await p.kill('north-1', 'SIGKILL');
  // The destination keeps the job and says it is waiting to retry.
  const deadline = Date.now() + 20_000;
  let seen = '';
  while (Date.now() < deadline && !seen.includes('will retry')) {
    const replicas = await api(p.url('south-1'), p.demo.token, 'GET', '/v2/images');
    assert.equal(replicas.body.images[0]?.status, 'saving', 'the replica waits, still listed');
    seen = await readLog(p);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.match(seen, /will retry/, 'the run failed and was scheduled again');
  await p.start('north-1');
  const job = await waitUntil(p, jobId, (j) => ['SUCCESS', 'FAIL', 'CANCELLED'].includes(j.status));
  assert.equal(job.status, 'SUCCESS', JSON.stringify(job));
  assert.ok((await download(p, 'south-1', job.entities.image_id!)).equals(data));
  // Each lane's waits between retries left a listener on the run's signal, until Node warned of a leak.
  assert.doesNotMatch(await readLog(p), /MaxListenersExceeded/);
});

async function readLog(p: RegionProcesses): Promise<string> {
  const { readFile } = await import('node:fs/promises');
  return readFile(`${p.dataDir}/south-1.log`, 'utf8').catch(() => '');
}

test('a job that cannot finish ends FAIL with its reason, and its destination image is removed', async (t) => {
  const p = await startRegionProcesses(t, ['north-1', 'south-1'], {
    replication: { ...SETTINGS.replication, maxAttempts: 2, chunkAttempts: 2, retryBaseMs: 100 },
  });
  const imageId = await uploadImage(p, p.demo.token, 'north-1', pseudoRandom(24 * MiB, 8), { name: 'big' });
  const jobId = await startReplication(p.url('north-1'), p.demo.token, imageId);
  await waitUntil(p, jobId, (job) => job.bytes_transferred >= 2 * MiB);
  await p.kill('north-1', 'SIGKILL');
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline && !(await readLog(p)).includes('replication failed')) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const replicas = await api(p.url('south-1'), p.demo.token, 'GET', '/v2/images');
  assert.deepEqual(replicas.body.images, [], 'the failed replica is removed');
  await p.start('north-1');
  const job = await waitUntil(p, jobId, (j) => ['SUCCESS', 'FAIL', 'CANCELLED'].includes(j.status));
  assert.equal(job.status, 'FAIL');
  assert.equal(job.error_code, 'REPLICATION_FAILED');
  assert.match(job.fail_reason ?? '', /unreachable/);
  assert.notEqual(job.end_time, '');
  const deleted = await api(p.url('north-1'), p.demo.token, 'DELETE', `/v2/images/${imageId}`);
  assert.equal(deleted.status, 204, 'the source is no longer locked');
});
