// How replication shares what a region has: a job's bandwidth cap holds for the job as a whole, whatever
// its parallel lanes do; a slow job does not keep the destination's job slots from the jobs behind it; a
// frozen image's copies stop.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { api, startTestDeployment } from '../../helpers/deployment.js';
import { pseudoRandom, requestReplication, uploadImage, waitForJob } from '../../helpers/replication.js';

const MiB = 1024 * 1024;

async function replicate(url: string, token: string, id: string, extra: Record<string, unknown> = {}) {
  const started = await requestReplication(url, token, id, {
    region: 'south-1',
    agency_name: 'ferry_copy',
    ...extra,
  });
  assert.equal(started.status, 200, JSON.stringify(started.body));
  return started.body.job_id as string;
}

async function jobOf(url: string, token: string, jobId: string) {
  return (await api(url, token, 'GET', `/v1/cloudimages/job/${jobId}`)).body;
}

test("a job's bandwidth cap holds for all its lanes together, from the first batch", async (t) => {
  // 8 lanes ask for their first batches at once: each used to get a token bucket of its own.
  const d = await startTestDeployment(t, ['north-1', 'south-1'], { parallelFetches: 8, chunksPerRequest: 2 });
  const north = d.url('north-1');
  const token = d.demo.token;
  const id = await uploadImage(d, token, 'north-1', pseudoRandom(24 * MiB, 11), { name: 'capped' });
  const jobId = await replicate(north, token, id, { bandwidth_limit: MiB });
  const started = Date.now();
  await new Promise((resolve) => setTimeout(resolve, 3000));
  const sent = (await api(north, token, 'GET', '/v1/usage/transfer')).body.usage[0]?.bytes ?? 0;
  const seconds = (Date.now() - started) / 1000;
  t.diagnostic(`${sent / MiB} MiB sent in ${seconds.toFixed(1)} s at a cap of 1 MiB/s`);
  assert.ok(sent <= (seconds + 1) * MiB, `at most the cap (and one chunk), not ${sent / MiB} MiB`);
  assert.ok(sent > 0, 'but it does send');
  assert.equal((await api(north, token, 'POST', `/v1/cloudimages/job/${jobId}/cancel`)).status, 200);
});

test('a slow job gives its slot to a waiting job after its time slice, and resumes after it', async (t) => {
  const d = await startTestDeployment(t, ['north-1', 'south-1'], { concurrentJobs: 1, timeSliceMs: 300 });
  const north = d.url('north-1');
  const token = d.demo.token;
  const slowData = pseudoRandom(8 * MiB, 21);
  const slowId = await uploadImage(d, token, 'north-1', slowData, { name: 'slow' });
  const quickData = pseudoRandom(3 * MiB, 22);
  const quickId = await uploadImage(d, token, 'north-1', quickData, { name: 'quick' });

  // 8 MiB at 128 KiB/s would hold the only slot for over a minute.
  const slowJob = await replicate(north, token, slowId, { bandwidth_limit: 128 * 1024 });
  for (let i = 0; i < 100 && (await jobOf(north, token, slowJob)).status !== 'RUNNING'; i++) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const quickJob = await replicate(north, token, quickId);
  const quick = await waitForJob(north, token, quickJob, 20_000);
  assert.equal(quick.status, 'SUCCESS', JSON.stringify(quick));
  const download = await fetch(`${d.url('south-1')}/v2/images/${quick.entities.image_id}/file`, {
    headers: { 'x-auth-token': token },
  });
  assert.ok(Buffer.from(await download.arrayBuffer()).equals(quickData));

  const slow = await jobOf(north, token, slowJob);
  assert.ok(['INIT', 'RUNNING'].includes(slow.status), `the slow job goes on: ${slow.status}`);
  // Giving the slot back is no failed run: the job keeps all its tries for real failures.
  for (let i = 0; i < 100 && (await jobOf(north, token, slowJob)).bytes_transferred === 0; i++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const resumed = await jobOf(north, token, slowJob);
  assert.ok(resumed.bytes_transferred > 0, 'it resumed once the quick job was done');
  assert.equal(resumed.attempts, 1, JSON.stringify(resumed));
  assert.equal((await api(north, token, 'POST', `/v1/cloudimages/job/${slowJob}/cancel`)).status, 200);
});

test('freezing an image stops its copies under way: the jobs end CANCELLED and their replicas leave', async (t) => {
  const d = await startTestDeployment(t, ['north-1', 'south-1']);
  const north = d.url('north-1');
  const token = d.demo.token;
  const id = await uploadImage(d, token, 'north-1', pseudoRandom(8 * MiB, 31), { name: 'held' });
  const jobId = await replicate(north, token, id, { bandwidth_limit: 128 * 1024 });
  for (let i = 0; i < 100 && (await jobOf(north, token, jobId)).status !== 'RUNNING'; i++) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  assert.equal((await api(north, d.admin.token, 'POST', `/v2/images/${id}/actions/freeze`)).status, 204);
  assert.equal((await jobOf(north, token, jobId)).status, 'CANCELLED');
  assert.deepEqual((await api(d.url('south-1'), token, 'GET', '/v2/images')).body.images, []);
  assert.equal((await api(north, d.admin.token, 'POST', `/v2/images/${id}/actions/unfreeze`)).status, 204);
});
