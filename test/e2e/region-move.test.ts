// `ferry region move` (issue 21, point 4): an embedded region (SQLite and a blob folder) with images, a
// finished replication and its events is moved to PostgreSQL and the S3 server, restarted on them, and
// serves the same images byte for byte to the same token; its images replicate again. A running region is
// refused, and so is a database that already holds a region. Real processes from the build (dist/).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { api } from '../helpers/deployment.js';
import { testPostgresSchemas, testPostgresUrl } from '../helpers/db.js';
import { ferryArgs } from '../helpers/ferry-command.js';
import { startRegionProcesses } from '../helpers/region-processes.js';
import { pseudoRandom, startReplication, uploadImage, waitForJob } from '../helpers/replication.js';
import { emptyS3Prefix, freshS3Prefix, s3Skip, testS3Settings } from '../helpers/s3.js';
import { regionBlobs, storedChunkDigests } from '../helpers/stored-chunks.js';
import { ownStackSkip } from '../helpers/stack.js';

const MiB = 1024 * 1024;

/** Runs `ferry region move …`; its exit code and output. */
async function regionMove(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ferryArgs('region', 'move', ...args), {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const [code] = (await once(child, 'exit')) as [number];
  return { code, stdout, stderr };
}

async function download(url: string, token: string, id: string): Promise<Buffer> {
  const response = await fetch(`${url}/v2/images/${id}/file`, { headers: { 'x-auth-token': token } });
  assert.equal(response.status, 200, id);
  return Buffer.from(await response.arrayBuffer());
}

/** The S3 settings under a fresh prefix, emptied after the test (call after the processes' hook). */
function s3Target(t: TestContext) {
  const s3 = { ...testS3Settings()!, prefix: freshS3Prefix() };
  t.after(() => emptyS3Prefix(testS3Settings()!, s3.prefix));
  return { blobStore: 's3' as const, s3 };
}

const skip =
  ownStackSkip() || s3Skip() || (testPostgresUrl() ? false : 'FERRY_TEST_PG is unset (outside CI)');

test(
  'an embedded region moved to PostgreSQL and S3 serves the same images to the same token',
  { skip },
  async (t) => {
    // Embedded regions whatever the test stack: the move starts from SQLite and a blob folder.
    const p = await startRegionProcesses(t, ['north-1', 'south-1'], {
      storage: { blobStore: 'fs' },
      replication: { pollMs: 50, retryBaseMs: 100 },
    });
    const schemaOf = await testPostgresSchemas(t);
    const storage = s3Target(t);
    const token = p.demo.token;
    const images = new Map<string, Buffer>();
    for (const [i, size] of [5 * MiB + 17, 2 * MiB, 300_001].entries()) {
      const data = Buffer.concat([pseudoRandom(size, 60 + i), Buffer.alloc(MiB)]); // a zero chunk too
      images.set(await uploadImage(p, token, 'north-1', data, { name: `moved-${i}` }), data);
    }
    const [first] = images.keys();
    const job = await waitForJob(
      p.url('north-1'),
      token,
      await startReplication(p.url('north-1'), token, first!),
    );
    assert.equal(job.status, 'SUCCESS');
    const before = await api(p.url('north-1'), token, 'GET', '/v2/images?sort_key=name&sort_dir=asc');
    const events = await api(p.url('north-1'), token, 'GET', `/v1/events?job_id=${job.job_id}`);
    assert.ok(events.body.events.length > 0);

    const target = schemaOf('north-1');
    assert.equal(target.kind, 'postgres');
    const settingsFile = join(p.dataDir, 'north-1-moved.json');
    await writeFile(settingsFile, JSON.stringify({ storage }));
    const moveArgs = [
      '--region',
      'north-1',
      '--data',
      p.dataDir,
      '--database',
      target.url,
      '--database-schema',
      target.schema!,
      '--settings',
      settingsFile,
    ];

    // While the region runs, its blob folder is locked: nothing is copied.
    const refused = await regionMove(moveArgs);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /in use by process \d+; stop it first/);

    await p.kill('north-1', 'SIGTERM');
    const moved = await regionMove(moveArgs);
    assert.equal(moved.code, 0, moved.stderr);
    assert.match(moved.stdout, /Moved region north-1: \d+ rows in \d+ tables to PostgreSQL \(schema /);
    assert.match(moved.stdout, /Blobs: \d+ copied to the bucket/);
    assert.match(moved.stderr, /^blobs: \d+\/\d+$/m);
    // The bucket holds what the folder holds, and the folder is left as it was.
    const folder = regionBlobs({ dataDir: p.dataDir }, 'north-1');
    const bucket = regionBlobs({ dataDir: p.dataDir, storage }, 'north-1');
    const inFolder = (await storedChunkDigests(folder)).sort();
    assert.ok(inFolder.length >= 3, `${inFolder.length} chunks in the folder`);
    assert.deepEqual((await storedChunkDigests(bucket)).sort(), inFolder);
    assert.ok(existsSync(join(p.dataDir, 'north-1', 'ferry.sqlite')));

    // A second move into the same schema is refused: it holds a region now.
    const again = await regionMove(moveArgs);
    assert.notEqual(again.code, 0);
    assert.match(again.stderr, /already holds region data/);

    // The region on PostgreSQL and S3: same images, same token, same bytes, and its job and events.
    await writeFile(p.settingsFile('north-1'), JSON.stringify({ storage, replication: { pollMs: 50 } }));
    await p.start('north-1', ['--database', target.url, '--database-schema', target.schema!]);
    const after = await api(p.url('north-1'), token, 'GET', '/v2/images?sort_key=name&sort_dir=asc');
    assert.equal(after.status, 200);
    assert.deepEqual(after.body.images, before.body.images);
    for (const [id, data] of images)
      assert.ok((await download(p.url('north-1'), token, id)).equals(data), id);
    const jobAfter = await api(p.url('north-1'), token, 'GET', `/v1/cloudimages/job/${job.job_id}`);
    assert.equal(jobAfter.body.status, 'SUCCESS');
    const eventsAfter = await api(p.url('north-1'), token, 'GET', `/v1/events?job_id=${job.job_id}`);
    assert.deepEqual(eventsAfter.body.events, events.body.events);

    // Its images replicate from the bucket: the copy in south-1 is byte-identical.
    const ids = [...images.keys()];
    const second = await waitForJob(
      p.url('north-1'),
      token,
      await startReplication(p.url('north-1'), token, ids[1]!),
    );
    assert.equal(second.status, 'SUCCESS', JSON.stringify(second));
    assert.ok((await download(p.url('south-1'), token, second.dest_image_id!)).equals(images.get(ids[1]!)!));
    // And it takes new uploads into the bucket.
    const fresh = pseudoRandom(MiB + 5, 99);
    const freshId = await uploadImage(p, token, 'north-1', fresh, { name: 'after-the-move' });
    assert.ok((await download(p.url('north-1'), token, freshId)).equals(fresh));
  },
);
