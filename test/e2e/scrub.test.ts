// Scrubbing a region's chunk store through the administrators' API: a chunk damaged on disk is found and
// removed, the image that used it is reported and no longer served with wrong bytes, and the next upload or
// replication of the same data heals it.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { api, OCTET, startTestDeployment, type TestDeployment } from '../helpers/deployment.js';
import { recordReliability } from '../helpers/reliability.js';
import { startReplication, waitForJob } from '../helpers/replication.js';
import { corruptStoredChunk, holdsChunk, regionBlobs } from '../helpers/stored-chunks.js';

const MiB = 1024 * 1024;

/** 3 MiB in which no 1 MiB chunk repeats another or is all zeros. */
function imageData(): Buffer {
  const data = Buffer.alloc(3 * MiB);
  for (let at = 0; at < data.length; at += 4096) data.writeUInt32LE(at + 11, at);
  return data;
}

async function uploadImage(d: TestDeployment, name: string, data: Buffer, region?: string): Promise<string> {
  const created = await api(d.url(region), d.demo.token, 'POST', '/v2/images', {
    name,
    disk_format: 'raw',
    container_format: 'bare',
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const put = await api(
    d.url(region),
    d.demo.token,
    'PUT',
    `/v2/images/${created.body.id}/file`,
    data,
    OCTET,
  );
  assert.equal(put.status, 204, JSON.stringify(put.body));
  return created.body.id;
}

/** The bytes a download gets, or the error that cut it. */
async function download(
  d: TestDeployment,
  id: string,
  region?: string,
): Promise<{ status: number; data?: Buffer; error?: string }> {
  const response = await fetch(`${d.url(region)}/v2/images/${id}/file`, {
    headers: { 'x-auth-token': d.demo.token },
  });
  try {
    return { status: response.status, data: Buffer.from(await response.arrayBuffer()) };
  } catch (error) {
    return { status: response.status, error: (error as Error).message };
  }
}

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

test('a scrub removes a chunk damaged on disk, reports its image, and the next upload of the data heals it', async (t) => {
  const d = await startTestDeployment(t, ['north-1']);
  const data = imageData();
  const id = await uploadImage(d, 'scrubbed', data);

  const clean = await api(d.url(), d.admin.token, 'POST', '/v1/admin/scrub', {});
  assert.equal(clean.status, 200, JSON.stringify(clean.body));
  assert.deepEqual(clean.body, {
    chunksChecked: 3,
    bytesChecked: 3 * MiB,
    corruptChunks: [],
    missingChunks: [],
    badManifests: [],
    damagedImages: [],
  });

  // Flip one byte of the second chunk in its pack, keeping its length: the download would not notice.
  const second = sha256(data.subarray(MiB, 2 * MiB));
  await corruptStoredChunk(regionBlobs(d, 'north-1'), second, 100);
  const before = await download(d, id);
  assert.equal(before.data?.equals(data), false, 'the damage is served unnoticed before the scrub');

  const found = await api(d.url(), d.admin.token, 'POST', '/v1/admin/scrub', { bytes_per_second: 64 * MiB });
  assert.equal(found.status, 200, JSON.stringify(found.body));
  assert.deepEqual(found.body, {
    chunksChecked: 3,
    bytesChecked: 3 * MiB,
    corruptChunks: [second],
    missingChunks: [second],
    badManifests: [],
    damagedImages: [id],
  });
  assert.equal(await holdsChunk(regionBlobs(d, 'north-1'), second), false, 'the damaged chunk is gone');
  const after = await download(d, id);
  assert.ok(after.data === undefined || !after.data.equals(data), 'no longer served whole');
  assert.ok(after.error !== undefined || (after.data?.length ?? 0) < data.length, 'the download stops short');

  // The same bytes uploaded again store the chunk again: the first image is whole again.
  await uploadImage(d, 'same-data', data);
  const healed = await download(d, id);
  assert.equal(healed.status, 200);
  assert.ok(healed.data?.equals(data), 'byte-identical again');
  const again = await api(d.url(), d.admin.token, 'POST', '/v1/admin/scrub');
  assert.deepEqual(again.body.damagedImages, []);
  assert.deepEqual(again.body.corruptChunks, []);
});

test('a replica whose chunk was damaged and scrubbed away is healed by the next replication of its source', async (t) => {
  const d = await startTestDeployment(t, ['north-1', 'south-1']);
  const data = imageData();
  const source = await uploadImage(d, 'replicated', data, 'north-1');
  const first = await waitForJob(
    d.url('north-1'),
    d.demo.token,
    await startReplication(d.url('north-1'), d.demo.token, source),
  );
  assert.equal(first.status, 'SUCCESS', JSON.stringify(first));
  const replica = first.entities.image_id!;

  // The replica's last chunk is damaged in south-1's store; a scrub there finds it and removes it.
  const third = sha256(data.subarray(2 * MiB));
  await corruptStoredChunk(regionBlobs(d, 'south-1'), third, 4096);
  const found = await api(d.url('south-1'), d.admin.token, 'POST', '/v1/admin/scrub', {});
  assert.deepEqual(found.body.corruptChunks, [third]);
  assert.deepEqual(found.body.damagedImages, [replica]);
  assert.ok(!(await download(d, replica, 'south-1')).data?.equals(data), 'no longer served whole');

  // Replicating the source again sends the chunk south-1 no longer holds: the first replica is whole again.
  const second = await waitForJob(
    d.url('north-1'),
    d.demo.token,
    await startReplication(d.url('north-1'), d.demo.token, source),
  );
  assert.equal(second.status, 'SUCCESS', JSON.stringify(second));
  for (const id of [replica, second.entities.image_id!]) {
    const healed = await download(d, id, 'south-1');
    assert.equal(healed.status, 200);
    assert.ok(healed.data?.equals(data), `${id} byte-identical`);
  }
  const clean = await api(d.url('south-1'), d.admin.token, 'POST', '/v1/admin/scrub', {});
  assert.deepEqual(clean.body.damagedImages, []);
  assert.deepEqual(clean.body.corruptChunks, []);
  await recordReliability({
    class: 'disk',
    subject:
      'a chunk damaged on disk (one byte flipped in its pack), in the region that uploaded it and in a replica',
    tried:
      '2 damaged chunks: one under an uploaded image, one under a replica; a scrub of each region, then the same data uploaded again, and the source replicated again',
    held: 'each scrub reported exactly the damaged chunk and its image and removed it; the damaged image was no longer served whole; the next upload and the next replication healed it byte-identical, and the scrubs after were clean',
    file: 'test/e2e/scrub.test.ts',
  });
});

test('only administrators scrub, and a bad pace is a JSON error', async (t) => {
  const d = await startTestDeployment(t, ['north-1']);
  const denied = await api(d.url(), d.demo.token, 'POST', '/v1/admin/scrub', {});
  assert.equal(denied.status, 403);
  for (const bytes_per_second of [0, -5, 1.5, 'fast']) {
    const bad = await api(d.url(), d.admin.token, 'POST', '/v1/admin/scrub', { bytes_per_second });
    assert.equal(bad.status, 400, JSON.stringify(bad.body));
    assert.equal(bad.body.error.code, 'VALIDATION_FAILED');
  }
});

test('each region scrubs on its own timer, and stopping the region cuts a slow scrub short', async (t) => {
  const d = await startTestDeployment(t, ['north-1'], {}, { scrubIntervalMs: 100 });
  const data = imageData();
  await uploadImage(d, 'scrubbed-by-timer', data);
  const first = sha256(data.subarray(0, MiB));
  const blobs = regionBlobs(d, 'north-1');
  await corruptStoredChunk(blobs, first, 7);
  for (let i = 0; i < 100 && (await holdsChunk(blobs, first)); i++) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  assert.equal(await holdsChunk(blobs, first), false, 'the periodic scrub removed the damaged chunk');

  // At 1 KiB/s a scrub of these chunks would take about an hour; stopping must not wait for it.
  const slow = await startTestDeployment(
    t,
    ['north-1'],
    {},
    { scrubIntervalMs: 50, scrubBytesPerSecond: 1024 },
  );
  await uploadImage(slow, 'slowly-scrubbed', data);
  await new Promise((resolve) => setTimeout(resolve, 300)); // a scrub is under way
  const stopping = slow.close();
  const outcome = await Promise.race([
    stopping.then(() => 'stopped'),
    new Promise((resolve) => setTimeout(resolve, 10_000, 'still scrubbing')),
  ]);
  assert.equal(outcome, 'stopped');
});
