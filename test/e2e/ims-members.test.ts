// IMS's batch sharing: POST, DELETE and PUT /v1/cloudimages/members answer a job that names each refused pair.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { api, startTestDeployment } from '../helpers/deployment.js';
import { pseudoRandom, uploadImage } from '../helpers/replication.js';

const MiB = 1024 * 1024;

test('batch add, answer and remove members, each as a job; refused pairs are named, the rest done', async (t) => {
  const d = await startTestDeployment(t, ['north-1']);
  const url = d.url();
  const a = d.demo.token;
  const b = d.other.token;
  const bProject = d.other.projects['north-1']!;
  const images = [
    await uploadImage(d, a, 'north-1', pseudoRandom(MiB, 131), { name: 'one', visibility: 'private' }),
    await uploadImage(d, a, 'north-1', pseudoRandom(MiB, 132), { name: 'two', visibility: 'private' }),
  ];
  const job = async (answer: { status: number; body: { job_id?: string } }) => {
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    return (await api(url, a, 'GET', `/v1/cloudimages/job/${answer.body.job_id}`)).body;
  };
  const jobOf = async (token: string, answer: { status: number; body: { job_id?: string } }) => {
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    return (await api(url, token, 'GET', `/v1/cloudimages/job/${answer.body.job_id}`)).body;
  };

  const added = await job(
    await api(url, a, 'POST', '/v1/cloudimages/members', { images, projects: [bProject] }),
  );
  assert.equal(added.job_type, 'imsAddImageMembersJob');
  assert.equal(added.status, 'SUCCESS');
  const pending = (await api(url, b, 'GET', '/v2/images?member_status=pending&visibility=shared')).body
    .images;
  assert.deepEqual(pending.map((i: { name: string }) => i.name).sort(), ['one', 'two']);

  const answered = await jobOf(
    b,
    await api(url, b, 'PUT', '/v1/cloudimages/members', { images, project_id: bProject, status: 'accepted' }),
  );
  assert.equal(answered.job_type, 'imsUpdateImageMembersJob');
  assert.equal(answered.status, 'SUCCESS');
  assert.equal((await api(url, b, 'GET', '/v2/images?visibility=shared')).body.images.length, 2);
  const forOther = await api(url, b, 'PUT', '/v1/cloudimages/members', {
    images,
    project_id: d.demo.projects['north-1'],
    status: 'accepted',
  });
  assert.equal(forOther.status, 403, 'a member answers only for itself');

  // Someone else's image, and an unknown project: named in the job, which fails; nothing else changes.
  const theirs = await uploadImage(d, b, 'north-1', pseudoRandom(MiB, 133), { name: 'theirs' });
  const refused = await job(
    await api(url, a, 'POST', '/v1/cloudimages/members', { images: [theirs], projects: ['nope'] }),
  );
  assert.equal(refused.status, 'FAIL');
  assert.equal(refused.error_code, 'MEMBERS_REFUSED');
  assert.match(refused.fail_reason, new RegExp(`image ${theirs}, project nope: IMAGE_NOT_FOUND`));

  const removed = await job(
    await api(url, a, 'DELETE', '/v1/cloudimages/members', { images, projects: [bProject] }),
  );
  assert.equal(removed.job_type, 'imsDelImageMembersJob');
  assert.equal(removed.status, 'SUCCESS');
  assert.deepEqual((await api(url, b, 'GET', '/v2/images?visibility=shared')).body.images, []);

  const bad = await api(url, a, 'POST', '/v1/cloudimages/members', { images: [] });
  assert.equal(bad.status, 400);
  assert.equal(bad.body.error.code, 'VALIDATION_FAILED');
});
