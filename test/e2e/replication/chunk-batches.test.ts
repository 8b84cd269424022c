// The region-to-region chunk batch route, as a destination region calls it: region credentials and the job's
// grant are required, only the granted image's chunks are served, a batch answers the chunks back to back;
// and a chunk that arrives corrupt is never stored, the run is retried, and the job completes once the
// source serves good bytes again.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sha256Digest } from '../../../src/blobs/chunk-store.js';
import type { Digest } from '../../../src/domain/ids.js';
import { findJob } from '../../../src/store/jobs.js';
import { api, regionCredential, startTestDeployment, type TestDeployment } from '../../helpers/deployment.js';
import { pseudoRandom, requestReplication, uploadImage, waitForJob } from '../../helpers/replication.js';
import { corruptStoredChunk, regionBlobs } from '../../helpers/stored-chunks.js';

const MiB = 1024 * 1024;

function regionOf(d: TestDeployment, name: string) {
  return d.regions.find((region) => region.name === name)!;
}

async function startSlowJob(d: TestDeployment, data: Buffer) {
  const token = d.demo.token;
  const imageId = await uploadImage(d, token, 'north-1', data, { name: 'batched' });
  const started = await requestReplication(d.url('north-1'), token, imageId, {
    region: 'south-1',
    agency_name: 'ferry_copy',
    bandwidth_limit: 1024 * 1024, // slow: the grant stays valid while the test calls the route itself
  });
  assert.equal(started.status, 200, JSON.stringify(started.body));
  return { imageId, jobId: started.body.job_id as string };
}

test('a chunk batch needs region credentials and the grant, and answers only the granted chunks, back to back', async (t) => {
  const d = await startTestDeployment(t, ['north-1', 'south-1']);
  const data = pseudoRandom(6 * MiB + 4096, 11);
  const { jobId } = await startSlowJob(d, data);
  const south = regionOf(d, 'south-1');
  let grant: string | null | undefined;
  for (let i = 0; i < 100 && !grant; i++) {
    grant = (await findJob(south.ctx.db, jobId))?.grant_secret;
    if (!grant) await new Promise((resolve) => setTimeout(resolve, 50));
  }
  assert.ok(grant, 'the destination holds the grant');
  const southSecret = await regionCredential(d, 'south-1');
  const credentials = { 'x-ferry-region': 'south-1', 'x-ferry-region-secret': southSecret };
  const digestOf = (index: number, length = MiB) =>
    sha256Digest(data.subarray(index * MiB, index * MiB + length));
  const tail = digestOf(6, 4096);
  const route = `/internal/v1/grants/${jobId}/chunks`;
  const north = d.url('north-1');

  const noCredentials = await api(
    north,
    undefined,
    'POST',
    route,
    { digests: [digestOf(0)] },
    { 'x-ferry-grant': grant },
  );
  assert.equal(noCredentials.status, 401);
  assert.equal(noCredentials.body.error.code, 'UNAUTHORIZED');
  const userToken = await api(north, d.demo.token, 'POST', route, { digests: [digestOf(0)] });
  assert.equal(userToken.status, 401, 'a user token is no region credential');
  const wrongGrant = await api(
    north,
    undefined,
    'POST',
    route,
    { digests: [digestOf(0)] },
    {
      ...credentials,
      'x-ferry-grant': 'not-the-grant',
    },
  );
  assert.equal(wrongGrant.status, 403);
  assert.equal(wrongGrant.body.error.code, 'GRANT_INVALID');

  const granted = { ...credentials, 'x-ferry-grant': grant };
  const foreign = await api(
    north,
    undefined,
    'POST',
    route,
    { digests: [sha256Digest(Buffer.from('x'))] },
    granted,
  );
  assert.equal(foreign.status, 403, 'a chunk outside the granted image');
  assert.equal(foreign.body.error.code, 'GRANT_INVALID');
  for (const body of [
    {},
    { digests: [] },
    { digests: ['nope'] },
    { digests: Array.from({ length: 65 }, () => digestOf(0)) },
    { digests: [digestOf(0)], bytes_per_second: 5 },
  ]) {
    const refused = await api(north, undefined, 'POST', route, body, granted);
    assert.equal(refused.status, 400, JSON.stringify(body));
    assert.equal(refused.body.error.code, 'VALIDATION_FAILED');
  }

  const response = await fetch(north + route, {
    method: 'POST',
    headers: { ...granted, 'content-type': 'application/json' },
    body: JSON.stringify({ digests: [digestOf(2), tail, digestOf(0)] }),
  });
  assert.equal(response.status, 200);
  assert.equal(response.headers.get('content-length'), String(2 * MiB + 4096));
  const bytes = Buffer.from(await response.arrayBuffer());
  assert.ok(
    bytes.equals(
      Buffer.concat([data.subarray(2 * MiB, 3 * MiB), data.subarray(6 * MiB), data.subarray(0, MiB)]),
    ),
    'the chunks, in the order asked, back to back',
  );
});

test('a chunk that arrives corrupt is not stored; the run is retried and the job completes with the right bytes', async (t) => {
  const d = await startTestDeployment(t, ['north-1', 'south-1'], { chunkAttempts: 2, maxAttempts: 5 });
  const token = d.demo.token;
  const data = pseudoRandom(8 * MiB, 12);
  const imageId = await uploadImage(d, token, 'north-1', data, { name: 'bitrot' });
  // Rot one chunk on the source's disk: the source serves stored chunks without re-hashing them.
  const digest = sha256Digest(data.subarray(3 * MiB, 4 * MiB)) as Digest;
  await corruptStoredChunk(regionBlobs(d, 'north-1'), digest, 12345, 0x01);

  const started = await requestReplication(d.url('north-1'), token, imageId, {
    region: 'south-1',
    agency_name: 'ferry_copy',
  });
  assert.equal(started.status, 200, JSON.stringify(started.body));
  const jobId = started.body.job_id as string;
  const south = regionOf(d, 'south-1');
  let failed = '';
  for (let i = 0; i < 200 && !failed.includes('digest mismatch'); i++) {
    failed = (await findJob(south.ctx.db, jobId))?.fail_reason ?? '';
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  assert.match(failed, /attempt 1 of 5 failed: chunk digest mismatch/, 'the run failed on the corrupt chunk');
  assert.equal(await south.ctx.chunks.hasChunk(digest), false, 'the corrupt bytes were not stored');

  await corruptStoredChunk(regionBlobs(d, 'north-1'), digest, 12345, 0x01); // the source is repaired
  const job = await waitForJob(d.url('north-1'), token, jobId);
  assert.equal(job.status, 'SUCCESS', JSON.stringify(job));
  assert.ok((job.attempts ?? 0) >= 2, `attempts: ${job.attempts}`);
  const copy = await fetch(`${d.url('south-1')}/v2/images/${job.entities.image_id}/file`, {
    headers: { 'x-auth-token': token },
  });
  assert.ok(Buffer.from(await copy.arrayBuffer()).equals(data), 'the replica is byte-identical');
});
