// Regions whose blob store is an S3 bucket (storage.blobStore "s3", a real S3 server: Swift's s3api, see
// scripts/start-test-s3.sh): two `ferry serve` processes sharing one bucket, each under its own prefix, take
// an upload, replicate it, serve it back byte for byte, scrub and collect their garbage in the bucket; and
// `ferry local --settings` runs its regions on the bucket too. Real processes from the build (dist/).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createS3BlobDriver } from '../../../src/blobs/drivers/s3.js';
import { CHUNKS_PREFIX, MANIFESTS_PREFIX } from '../../../src/blobs/layout.js';
import type { DeploymentSettings } from '../../../src/config/settings.js';
import { api } from '../../helpers/deployment.js';
import { ferryArgs } from '../../helpers/ferry-command.js';
import { startRegionProcesses } from '../../helpers/region-processes.js';
import { pseudoRandom, startReplication, uploadImage, waitForJob } from '../../helpers/replication.js';
import { emptyS3Prefix, freshS3Prefix, s3Skip, testS3Settings } from '../../helpers/s3.js';
import { makeTempDir } from '../../helpers/tmp.js';
import { ownStackSkip } from '../../helpers/stack.js';

const MiB = 1024 * 1024;
const skip = s3Skip() || ownStackSkip();

/**
 * Settings that put every region's blobs in the test bucket under `<prefix><region>/`. The caller empties the
 * prefix in a hook added after the one that stops its processes (hooks run in the order they are added).
 */
function s3Storage(): { settings: DeploymentSettings; prefix: string } {
  const prefix = freshS3Prefix();
  return { settings: { storage: { blobStore: 's3', s3: { ...testS3Settings()!, prefix } } }, prefix };
}

/** The keys the region's blob store holds under `under` (e.g. CHUNKS_PREFIX), read from the bucket itself. */
async function bucketKeys(prefix: string, region: string, under: string): Promise<string[]> {
  const driver = await createS3BlobDriver({ ...testS3Settings()!, prefix: `${prefix}${region}/` });
  try {
    const keys: string[] = [];
    for await (const key of driver.list(under)) keys.push(key);
    return keys.sort();
  } finally {
    await driver.close();
  }
}

test(
  'two regions on one S3 bucket, each under its own prefix: upload, replicate, download byte for byte, scrub, collect',
  { skip },
  async (t) => {
    const { settings, prefix } = s3Storage();
    const d = await startRegionProcesses(t, ['north-1', 'south-1'], {
      ...settings,
      replication: { pollMs: 100, retryBaseMs: 100 },
    });
    t.after(() => emptyS3Prefix(testS3Settings()!, prefix)); // after the processes are stopped
    const token = d.demo.token;
    // Five distinct data chunks, a zero chunk (never stored) and a short last chunk.
    const data = Buffer.concat([pseudoRandom(5 * MiB, 41), Buffer.alloc(MiB), pseudoRandom(300_001, 43)]);
    const sourceId = await uploadImage(d, token, 'north-1', data, { name: 'on-s3' });
    const north = await bucketKeys(prefix, 'north-1', CHUNKS_PREFIX);
    assert.equal(north.length, 6, `north-1's chunks in the bucket: ${north.join(' ')}`);
    assert.equal((await bucketKeys(prefix, 'north-1', MANIFESTS_PREFIX)).length, 1);
    assert.ok(!existsSync(join(d.dataDir, 'north-1', 'blobs')), 'no blob folder');

    const jobId = await startReplication(d.url('north-1'), token, sourceId, {
      region: 'south-1',
      project_name: 'south-1',
      agency_name: 'ferry_copy',
    });
    const job = await waitForJob(d.url('north-1'), token, jobId);
    assert.equal(job.status, 'SUCCESS', JSON.stringify(job));
    const destId = job.entities.image_id!;
    assert.deepEqual(await bucketKeys(prefix, 'south-1', CHUNKS_PREFIX), north, 'the same chunks, apart');
    const download = await fetch(`${d.url('south-1')}/v2/images/${destId}/file`, {
      headers: { 'x-auth-token': token },
    });
    assert.equal(download.status, 200);
    assert.ok(Buffer.from(await download.arrayBuffer()).equals(data), 'byte for byte');
    // A range across a chunk boundary, read from two objects.
    const range = await fetch(`${d.url('south-1')}/v2/images/${destId}/file`, {
      headers: { 'x-auth-token': token, range: `bytes=${MiB - 10}-${MiB + 9}` },
    });
    assert.equal(range.status, 206);
    assert.ok(Buffer.from(await range.arrayBuffer()).equals(data.subarray(MiB - 10, MiB + 10)));

    const scrub = await api(d.url('south-1'), d.admin.token, 'POST', '/v1/admin/scrub', {});
    assert.equal(scrub.status, 200, JSON.stringify(scrub.body));
    assert.equal(scrub.body.chunksChecked, 6);
    assert.deepEqual([scrub.body.corruptChunks, scrub.body.missingChunks], [[], []]);

    // Deleted in north-1: its collection empties north-1's prefix and leaves south-1's copy alone.
    assert.equal((await api(d.url('north-1'), token, 'DELETE', `/v2/images/${sourceId}`)).status, 204);
    const gc = await api(d.url('north-1'), d.admin.token, 'POST', '/v1/admin/gc', { grace_seconds: 0 });
    assert.equal(gc.status, 200, JSON.stringify(gc.body));
    assert.equal(gc.body.chunksDeleted, 6);
    assert.deepEqual(await bucketKeys(prefix, 'north-1', ''), []);
    assert.equal((await bucketKeys(prefix, 'south-1', CHUNKS_PREFIX)).length, 6);
    const again = await fetch(`${d.url('south-1')}/v2/images/${destId}/file`, {
      headers: { 'x-auth-token': token },
    });
    assert.ok(Buffer.from(await again.arrayBuffer()).equals(data));
  },
);

test('ferry local --settings runs its regions on the bucket', { skip }, async (t) => {
  const { settings, prefix } = s3Storage();
  const dataDir = await makeTempDir(t);
  const settingsFile = join(dataDir, 'settings.json');
  await writeFile(settingsFile, JSON.stringify(settings));
  const ferry = spawn(
    process.execPath,
    ferryArgs(
      'local',
      '--data',
      join(dataDir, 'data'),
      '--port',
      '0',
      '--regions',
      'north-1',
      '--settings',
      settingsFile,
    ),
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  // Runs before the folder's removal (added after it) and before the prefix is emptied (added next).
  t.after(async () => {
    if (ferry.exitCode === null && ferry.signalCode === null) {
      const exited = once(ferry, 'exit');
      ferry.kill('SIGINT'); // the supervisor stops its region processes
      await exited;
    }
  });
  t.after(() => emptyS3Prefix(testS3Settings()!, prefix));
  let output = '';
  ferry.stdout.setEncoding('utf8').on('data', (text: string) => (output += text));
  ferry.stderr.setEncoding('utf8').on('data', (text: string) => (output += text));
  const deadline = Date.now() + 60_000;
  while (!output.includes('Stop with Ctrl-C.')) {
    assert.ok(ferry.exitCode === null, `ferry local ended:\n${output}`);
    assert.ok(Date.now() < deadline, `ferry local did not start:\n${output}`);
    await sleep(50);
  }
  const token = /^Token \(valid 7 days, every region\): (\S+)$/m.exec(output)![1]!;
  const url = /^\s+north-1\s+(http:\/\/\S+)$/m.exec(output)![1]!;
  const data = pseudoRandom(2 * MiB + 5, 47);
  const id = await uploadImage({ url: () => url }, token, 'north-1', data);
  assert.equal((await bucketKeys(prefix, 'north-1', CHUNKS_PREFIX)).length, 3);
  const download = await fetch(`${url}/v2/images/${id}/file`, { headers: { 'x-auth-token': token } });
  assert.ok(Buffer.from(await download.arrayBuffer()).equals(data));
  assert.ok(!existsSync(join(dataDir, 'data', 'north-1', 'blobs')), 'no blob folder');
});

test('a region whose bucket does not exist does not start, and says why', { skip }, async (t) => {
  const missing = `ferry-missing-${Date.now()}`;
  await assert.rejects(
    startRegionProcesses(t, ['north-1'], {
      storage: { blobStore: 's3', s3: { ...testS3Settings()!, bucket: missing } },
    }),
    new RegExp(
      `region north-1 exited with 1: .*HeadBucket s3://${missing}/north-1/ at http://\\S+ failed: NotFound \\(HTTP 404\\); the bucket does not exist`,
      's',
    ),
  );
});
