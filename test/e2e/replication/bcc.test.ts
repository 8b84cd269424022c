// Baidu BCC-shaped replication: ?remoteCopy to several regions starts one job each and answers each new image's
// ID; ?cancelRemoteCopy on a destination image cancels its copy; errors are BCE's shape with BCC's codes.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { api, startTestDeployment } from '../../helpers/deployment.js';
import { pseudoRandom, uploadImage, waitForJob } from '../../helpers/replication.js';

const MiB = 1024 * 1024;

test('remoteCopy to two regions starts two jobs; cancelRemoteCopy cancels each from its region', async (t) => {
  // A cap on every job keeps the copies running while they are cancelled.
  const d = await startTestDeployment(t, ['north-1', 'south-1', 'west-1'], { bandwidthLimit: 128 * 1024 });
  const north = d.url('north-1');
  const token = d.demo.token;
  const image = await uploadImage(d, token, 'north-1', pseudoRandom(4 * MiB, 101), { name: 'bcc' });

  const copied = await api(north, token, 'POST', `/v2/image/${image}?remoteCopy`, {
    name: 'bcc-copy',
    destRegion: ['south-1', 'west-1'],
  });
  assert.equal(copied.status, 200, JSON.stringify(copied.body));
  const result = copied.body.result as Array<{
    region: string;
    imageId: string;
    errMsg: string;
    code: string;
  }>;
  assert.deepEqual(
    result.map((r) => [r.region, r.errMsg, r.code]),
    [
      ['south-1', '', ''],
      ['west-1', '', ''],
    ],
  );
  const jobs = (await api(north, token, 'GET', '/v1/cloudimages/jobs')).body.jobs as Array<{
    job_id: string;
    dest_region: string;
    dest_image_id: string;
  }>;
  assert.equal(jobs.length, 2);
  for (const r of result) {
    const replica = await api(d.url(r.region), token, 'GET', `/v2/images/${r.imageId}`);
    assert.equal(replica.status, 200);
    assert.equal(replica.body.name, 'bcc-copy');
    assert.equal(replica.body.status, 'saving');
    assert.ok(jobs.some((j) => j.dest_region === r.region && j.dest_image_id === r.imageId));
  }

  for (const r of result) {
    const cancelled = await fetch(`${d.url(r.region)}/v2/image/${r.imageId}?cancelRemoteCopy`, {
      method: 'POST',
      headers: { 'x-auth-token': token },
    });
    assert.equal(cancelled.status, 200);
    assert.equal(await cancelled.text(), '', 'no body');
    assert.equal((await api(d.url(r.region), token, 'GET', `/v2/images/${r.imageId}`)).status, 404, 'gone');
  }
  for (const job of jobs) assert.equal((await waitForJob(north, token, job.job_id)).status, 'CANCELLED');
  // An image that is not being copied into its region: BCC's 409.
  const notCopying = await api(north, token, 'POST', `/v2/image/${image}?cancelRemoteCopy`);
  assert.equal(notCopying.status, 409);
  assert.equal(notCopying.body.code, 'Image.ImageStatusForbidden');
  assert.match(notCopying.body.message, /not dest_copying/);
  assert.match(notCopying.body.requestId, /^req-/);
  // A cancelled copy's image is gone.
  const gone = await api(d.url('south-1'), token, 'POST', `/v2/image/${result[0]!.imageId}?cancelRemoteCopy`);
  assert.equal(gone.status, 404);
  assert.equal(gone.body.code, 'IMAGE_NOT_FOUND');
});

test("BCC's refusals: its codes per region, its error shape, and its 200 GiB cap (set lower here)", async (t) => {
  const d = await startTestDeployment(t, ['north-1', 'south-1'], { bccMaxImageBytes: 3 * MiB });
  const north = d.url('north-1');
  const token = d.demo.token;
  const small = await uploadImage(d, token, 'north-1', pseudoRandom(MiB, 102), { name: 'small' });
  const large = await uploadImage(d, token, 'north-1', pseudoRandom(4 * MiB, 103), { name: 'large' });

  // One region refused, one started: 200, with the refusal in its entry.
  const mixed = await api(north, token, 'POST', `/v2/image/${small}?remoteCopy`, {
    destRegion: ['north-1', 'south-1'],
  });
  assert.equal(mixed.status, 200, JSON.stringify(mixed.body));
  assert.equal(mixed.body.result[0].code, 'Image.RegionNotSupportCopy');
  assert.equal(mixed.body.result[0].imageId, '');
  assert.match(mixed.body.result[1].imageId, /^[0-9a-f-]{36}$/);
  const replica = await api(d.url('south-1'), token, 'GET', `/v2/images/${mixed.body.result[1].imageId}`);
  assert.equal(replica.body.name, 'copy_north-1_small', 'no name: the default one');

  const cases: Array<[string, unknown, number, string]> = [
    [`/v2/image/${large}?remoteCopy`, { destRegion: ['south-1'] }, 409, 'Image.LargeImageCopyForbidden'],
    [`/v2/image/${small}?remoteCopy`, { destRegion: ['north-1'] }, 409, 'Image.RegionNotSupportCopy'],
    [
      `/v2/image/00000000-0000-4000-8000-000000000000?remoteCopy`,
      { destRegion: ['south-1'] },
      404,
      'IMAGE_NOT_FOUND',
    ],
    [`/v2/image/${small}?remoteCopy`, { name: 'x' }, 400, 'VALIDATION_FAILED'],
    [`/v2/image/${small}`, { destRegion: ['south-1'] }, 400, 'VALIDATION_FAILED'],
  ];
  for (const [path, body, status, code] of cases) {
    const answer = await api(north, token, 'POST', path, body);
    assert.equal(answer.status, status, `${path}: ${JSON.stringify(answer.body)}`);
    assert.equal(answer.body.code, code, path);
    assert.equal(typeof answer.body.message, 'string');
    assert.match(answer.body.requestId, /^req-/);
    assert.equal(answer.body.error, undefined, "BCE's shape, not Ferry's");
  }
  const jobs = (await api(north, token, 'GET', '/v1/cloudimages/jobs')).body.jobs;
  assert.equal(jobs.length, 1, 'only the one that started');

  // An account none of whose agencies holds the policy in the destination: refused as such, nothing started.
  const theirs = await uploadImage(d, d.other.token, 'north-1', pseudoRandom(MiB, 104), { name: 'theirs' });
  const noAgency = await api(north, d.other.token, 'POST', `/v2/image/${theirs}?remoteCopy`, {
    destRegion: ['south-1'],
  });
  assert.equal(noAgency.status, 400, JSON.stringify(noAgency.body));
  assert.equal(noAgency.body.code, 'REPLICATION_AGENCY_INVALID');
  assert.match(noAgency.body.message, /None of your agencies holds CrossCopyAgencyPolicy in south-1/);
  assert.deepEqual((await api(north, d.other.token, 'GET', '/v1/cloudimages/jobs')).body.jobs, []);
});
