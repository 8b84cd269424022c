// Cross-account replication in one request: cross_region_copy with share_with shares the replica, once active,
// with projects of the destination region; the recipient accepts it and copies it into its own image, which
// outlives the sharer's deleting both of theirs.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { api, startTestDeployment } from '../../helpers/deployment.js';
import { pseudoRandom, requestReplication, uploadImage, waitForJob } from '../../helpers/replication.js';

const MiB = 1024 * 1024;
const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');

test('replicate and share in one request; B accepts, copies, and keeps its copy after A deletes both', async (t) => {
  const d = await startTestDeployment(t, ['north-1', 'south-1']);
  const north = d.url('north-1');
  const south = d.url('south-1');
  const a = d.demo.token;
  const b = d.other.token;
  const bProject = d.other.projects['south-1']!;
  const data = pseudoRandom(3 * MiB, 121);
  const source = await uploadImage(d, a, 'north-1', data, { name: 'to-share' });

  // A project that is not of the destination region: refused, nothing created.
  const wrong = await requestReplication(north, a, source, {
    region: 'south-1',
    agency_name: 'ferry_copy',
    share_with: [d.other.projects['north-1']!],
  });
  assert.equal(wrong.status, 400, JSON.stringify(wrong.body));
  assert.match(wrong.body.error.message, /share_with: no project .* in region south-1/);
  assert.deepEqual((await api(north, a, 'GET', '/v1/cloudimages/jobs')).body.jobs, []);
  assert.deepEqual((await api(south, a, 'GET', '/v2/images')).body.images, []);

  const started = await requestReplication(north, a, source, {
    region: 'south-1',
    agency_name: 'ferry_copy',
    share_with: [bProject],
  });
  assert.equal(started.status, 200, JSON.stringify(started.body));
  const job = await waitForJob(north, a, started.body.job_id);
  assert.equal(job.status, 'SUCCESS');
  assert.deepEqual(job.share_with, [bProject], 'the job names whom it shared with');
  const replica = job.dest_image_id!;

  // B sees it pending, accepts, and copies it into a private image of its own.
  const pending = (await api(south, b, 'GET', '/v2/images?member_status=pending&visibility=shared')).body
    .images;
  assert.deepEqual(
    pending.map((i: { id: string; status: string }) => [i.id, i.status]),
    [[replica, 'active']],
  );
  const accepted = await api(south, b, 'PUT', `/v2/images/${replica}/members/${bProject}`, {
    status: 'accepted',
  });
  assert.equal(accepted.status, 200, JSON.stringify(accepted.body));
  const copy = await api(south, b, 'POST', `/v1/cloudimages/${replica}/copy`, { name: 'mine-now' });
  assert.equal(copy.status, 200, JSON.stringify(copy.body));
  const copyId = copy.body.image_id as string;
  assert.equal((await api(south, b, 'GET', `/v2/images/${copyId}`)).body.visibility, 'private');

  // A deletes both of theirs; B's copy still downloads byte-identical.
  assert.equal((await api(south, a, 'DELETE', `/v2/images/${replica}`)).status, 204);
  assert.equal((await api(north, a, 'DELETE', `/v2/images/${source}`)).status, 204);
  for (const region of [north, south]) {
    await api(region, d.admin.token, 'POST', '/v1/admin/gc', { grace_seconds: 0 });
  }
  const download = await fetch(`${south}/v2/images/${copyId}/file`, { headers: { 'x-auth-token': b } });
  assert.equal(download.status, 200);
  assert.equal(sha256(new Uint8Array(await download.arrayBuffer())), sha256(data));
});
