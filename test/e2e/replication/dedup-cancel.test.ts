// Deduplicated transfer and cancellation: an image that shares 95% of its chunks with one already in the
// destination sends only what differs; a cancel from either side stops the job and removes the replica.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { api, JSON_PATCH, startTestDeployment } from '../../helpers/deployment.js';
import { pseudoRandom, requestReplication, uploadImage, waitForJob } from '../../helpers/replication.js';
import { regionBlobs, storedChunkDigests } from '../../helpers/stored-chunks.js';
import { revokeGrant } from '../../../src/store/grants.js';
import { findJob } from '../../../src/store/jobs.js';

const MiB = 1024 * 1024;

test('an image sharing 95% of its chunks with one already in the destination sends at most 10% of its bytes', async (t) => {
  const d = await startTestDeployment(t, ['north-1', 'south-1']);
  const north = d.url('north-1');
  const token = d.demo.token;
  const first = pseudoRandom(40 * MiB, 1);
  const second = Buffer.from(first);
  for (const block of [3, 27]) second.fill(block, block * MiB, block * MiB + 4096); // 2 of 40 chunks differ: 5%
  const firstId = await uploadImage(d, token, 'north-1', first, { name: 'v1' });
  const secondId = await uploadImage(d, token, 'north-1', second, { name: 'v2' });

  const copy = async (id: string) => {
    const started = await requestReplication(north, token, id, {
      region: 'south-1',
      agency_name: 'ferry_copy',
    });
    return waitForJob(north, token, started.body.job_id);
  };
  const firstJob = await copy(firstId);
  assert.equal(firstJob.bytes_transferred, first.length, 'the first copy sends everything');
  const secondJob = await copy(secondId);
  assert.equal(secondJob.status, 'SUCCESS');
  t.diagnostic(`second copy sent ${secondJob.bytes_transferred} of ${second.length} bytes`);
  assert.ok(secondJob.bytes_transferred <= 0.1 * second.length, 'at most 10% sent');
  assert.equal(secondJob.bytes_transferred, 2 * MiB, 'exactly the two chunks that differ');
  assert.equal(secondJob.bytes_skipped_present, 38 * MiB);
  const usage = await api(north, token, 'GET', '/v1/usage/transfer');
  assert.equal(usage.body.usage[0].bytes, 42 * MiB, 'metering agrees: 40 MiB then 2 MiB');
  const download = await fetch(`${d.url('south-1')}/v2/images/${secondJob.entities.image_id}/file`, {
    headers: { 'x-auth-token': token },
  });
  assert.ok(Buffer.from(await download.arrayBuffer()).equals(second));

  const zeros = Buffer.alloc(16 * MiB);
  zeros.fill(1, 5 * MiB, 6 * MiB);
  const sparseId = await uploadImage(d, token, 'north-1', zeros, { name: 'sparse' });
  const sparseJob = await copy(sparseId);
  assert.equal(sparseJob.bytes_skipped_zero, 15 * MiB, 'zero chunks are never sent');
  assert.equal(sparseJob.bytes_transferred, MiB);

  // Another account replicating the same bytes is sent all of them: what a job sends (and meters) must not
  // tell it that some other account holds that data in the destination.
  const olga = d.other.token;
  for (const region of ['north-1', 'south-1']) {
    const agency = await api(d.url(region), olga, 'POST', '/v1/agencies', {
      name: 'ferry_copy',
      policies: [{ region: 'south-1', policy: 'CrossCopyAgencyPolicy' }],
    });
    assert.equal(agency.status, 201, JSON.stringify(agency.body));
  }
  const copyAs = async (who: string, id: string) => {
    const started = await requestReplication(north, who, id, {
      region: 'south-1',
      agency_name: 'ferry_copy',
    });
    assert.equal(started.status, 200, JSON.stringify(started.body));
    return waitForJob(north, who, started.body.job_id);
  };
  const theirs = await copyAs(olga, await uploadImage(d, olga, 'north-1', first, { name: 'same bytes' }));
  assert.equal(theirs.status, 'SUCCESS');
  assert.equal(theirs.bytes_transferred, first.length, "demo's chunks are not skipped for another account");
  assert.equal(theirs.bytes_skipped_present, 0);
  const theirUsage = await api(north, olga, 'GET', '/v1/usage/transfer');
  assert.equal(theirUsage.body.usage[0].bytes, 40 * MiB);
  // Its own chunks are: a second image of the same bytes sends nothing.
  const again = await copyAs(olga, await uploadImage(d, olga, 'north-1', first, { name: 'again' }));
  assert.equal(again.bytes_transferred, 0);
  assert.equal(again.bytes_skipped_present, first.length);
});

test('a cancel from the source ends the job CANCELLED and removes the replica from the destination list', async (t) => {
  const d = await startTestDeployment(t, ['north-1', 'south-1']);
  const north = d.url('north-1');
  const token = d.demo.token;
  const id = await uploadImage(d, token, 'north-1', pseudoRandom(16 * MiB, 5), { name: 'slow' });
  const started = await requestReplication(north, token, id, {
    region: 'south-1',
    agency_name: 'ferry_copy',
    bandwidth_limit: 2 * MiB,
  });
  const jobId = started.body.job_id;
  for (let i = 0; i < 100; i++) {
    const job = (await api(north, token, 'GET', `/v1/cloudimages/job/${jobId}`)).body;
    if (job.bytes_transferred > 0) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const listed = await api(d.url('south-1'), token, 'GET', '/v2/images');
  assert.equal(listed.body.images.length, 1, 'replicating: listed in the destination');

  const cancelled = await api(north, token, 'POST', `/v1/cloudimages/job/${jobId}/cancel`);
  assert.equal(cancelled.status, 200, JSON.stringify(cancelled.body));
  assert.equal(cancelled.body.status, 'CANCELLED');
  assert.deepEqual((await api(d.url('south-1'), token, 'GET', '/v2/images')).body.images, [], 'gone at once');
  const sentAtCancel = (await api(north, token, 'GET', '/v1/usage/transfer')).body.usage[0].bytes;
  await new Promise((resolve) => setTimeout(resolve, 1500));
  const sentLater = (await api(north, token, 'GET', '/v1/usage/transfer')).body.usage[0].bytes;
  assert.ok(sentLater - sentAtCancel <= 6 * MiB, 'the transfer stopped (at most the chunks in flight)');
  assert.equal((await api(north, token, 'GET', `/v1/cloudimages/job/${jobId}`)).body.status, 'CANCELLED');
  const again = await api(north, token, 'POST', `/v1/cloudimages/job/${jobId}/cancel`);
  assert.equal(again.status, 409);
  assert.equal(again.body.error.code, 'JOB_FINISHED');
  assert.equal((await api(north, token, 'DELETE', `/v2/images/${id}`)).status, 204, 'the source is unlocked');

  // Garbage collection leaves no chunk that nothing references, in either region.
  for (const region of ['south-1', 'north-1']) {
    const report = await api(d.url(region), d.admin.token, 'POST', '/v1/admin/gc', { grace_seconds: 0 });
    assert.equal(report.status, 200, JSON.stringify(report.body));
    assert.ok(report.body.chunksDeleted > 0, `${region} had garbage`);
    assert.deepEqual(await storedChunkDigests(regionBlobs(d, region)), [], `${region} keeps no chunk`);
  }
  assert.equal((await api(north, token, 'POST', '/v1/admin/gc', {})).status, 403, 'administrators only');
});

test('a destination refused with a revoked grant (a cancel whose call did not reach it) ends its side CANCELLED, not FAIL', async (t) => {
  // One chunk per request: the destination's next request, a moment after the revocation, is refused.
  const d = await startTestDeployment(t, ['north-1', 'south-1'], { chunksPerRequest: 1, parallelFetches: 1 });
  const north = d.url('north-1');
  const token = d.demo.token;
  const id = await uploadImage(d, token, 'north-1', pseudoRandom(8 * MiB, 6), { name: 'revoked' });
  const started = await requestReplication(north, token, id, {
    region: 'south-1',
    agency_name: 'ferry_copy',
    bandwidth_limit: MiB,
  });
  const jobId = started.body.job_id as string;
  for (let i = 0; i < 100; i++) {
    const job = (await api(north, token, 'GET', `/v1/cloudimages/job/${jobId}`)).body;
    if (job.bytes_transferred > 0) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  // What a cancel in north-1 does first, before it calls south-1: the grant is revoked.
  const source = d.regions.find((r) => r.name === 'north-1')!;
  await revokeGrant(source.ctx.db, jobId, new Date().toISOString());
  const destination = d.regions.find((r) => r.name === 'south-1')!;
  let ended;
  for (let i = 0; i < 200; i++) {
    ended = await findJob(destination.ctx.db, jobId);
    if (ended && ['SUCCESS', 'FAIL', 'CANCELLED'].includes(ended.status)) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  assert.equal(ended?.status, 'CANCELLED', JSON.stringify(ended));
  assert.equal(ended.fail_reason, 'cancelled in north-1');
  assert.deepEqual(
    (await api(d.url('south-1'), token, 'GET', '/v2/images')).body.images,
    [],
    'replica removed',
  );
  assert.equal((await waitForJob(north, token, jobId)).status, 'CANCELLED', 'the source learns it');
});

test('a cancel from the destination (by the new image id) ends the job at the source too', async (t) => {
  const d = await startTestDeployment(t, ['north-1', 'south-1']);
  const north = d.url('north-1');
  const token = d.demo.token;
  const id = await uploadImage(d, token, 'north-1', pseudoRandom(16 * MiB, 6), { name: 'slow' });
  const started = await requestReplication(north, token, id, {
    region: 'south-1',
    agency_name: 'ferry_copy',
    bandwidth_limit: 2 * MiB,
  });
  const replica = (await api(d.url('south-1'), token, 'GET', '/v2/images')).body.images[0];
  assert.equal(replica.replication.job_id, started.body.job_id);
  const otherTries = await api(
    d.url('south-1'),
    d.other.token,
    'POST',
    `/v1/cloudimages/${replica.id}/cancel_copy`,
  );
  assert.equal(otherTries.status, 404, 'another account cannot touch it');
  const renamed = await api(
    d.url('south-1'),
    token,
    'PATCH',
    `/v2/images/${replica.id}`,
    [{ op: 'replace', path: '/name', value: 'mine-now' }],
    JSON_PATCH,
  );
  assert.equal(renamed.status, 409, 'a replica being written belongs to its job');
  assert.equal(renamed.body.error.code, 'IMAGE_IN_USE');
  const cancelled = await api(d.url('south-1'), token, 'POST', `/v1/cloudimages/${replica.id}/cancel_copy`);
  assert.equal(cancelled.status, 200, JSON.stringify(cancelled.body));
  assert.deepEqual((await api(d.url('south-1'), token, 'GET', '/v2/images')).body.images, []);
  const job = (await api(north, token, 'GET', `/v1/cloudimages/job/${started.body.job_id}`)).body;
  assert.equal(job.status, 'CANCELLED');
});

test('a replication holds the chunks it counts on from a collection that listed its roots before it', async (t) => {
  const d = await startTestDeployment(t, ['north-1', 'south-1']);
  const token = d.demo.token;
  const data = pseudoRandom(8 * MiB, 21);
  const digests = Array.from({ length: 8 }, (_, i) =>
    createHash('sha256')
      .update(data.subarray(i * MiB, (i + 1) * MiB))
      .digest('hex'),
  );
  // The chunks stay in south-1, unreferenced, after their image there is deleted.
  const old = await uploadImage(d, token, 'south-1', data, { name: 'old' });
  assert.equal((await api(d.url('south-1'), token, 'DELETE', `/v2/images/${old}`)).status, 204);
  const source = await uploadImage(d, token, 'north-1', data, { name: 'again' });

  // A collection starts in south-1 and lists its roots: the replica does not exist yet.
  const south = d.regions.find((r) => r.name === 'south-1')!.ctx.chunks;
  const collection = south.beginCollection();
  const started = await requestReplication(d.url('north-1'), token, source, {
    region: 'south-1',
    agency_name: 'ferry_copy',
  });
  const job = await waitForJob(d.url('north-1'), token, started.body.job_id);
  assert.equal(job.status, 'SUCCESS');
  assert.equal(job.bytes_skipped_present, data.length, 'every chunk was already there');
  for (const digest of digests)
    assert.ok(south.isHeld(digest as never), 'held until the collection that predates the replica ends');
  collection.end();
  for (const digest of digests) assert.equal(south.isHeld(digest as never), false);
  const download = await fetch(`${d.url('south-1')}/v2/images/${job.entities.image_id}/file`, {
    headers: { 'x-auth-token': token },
  });
  assert.ok(Buffer.from(await download.arrayBuffer()).equals(data));
});
