// Idempotent submission (AWS CopyImage's ClientToken): the same client token and request give the jobs of
// the first request, not new ones; another request under the same token is refused; tokens are per account.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { api, startTestDeployment } from '../../helpers/deployment.js';
import { pseudoRandom, requestReplication, uploadImage, waitForJob } from '../../helpers/replication.js';

const MiB = 1024 * 1024;

test('the same client_token twice gives one job; another request under it is refused', async (t) => {
  const d = await startTestDeployment(t, ['north-1', 'south-1', 'west-1']);
  const north = d.url('north-1');
  const image = await uploadImage(d, d.demo.token, 'north-1', pseudoRandom(MiB, 81), { name: 'once' });
  const body = { region: 'south-1', agency_name: 'ferry_copy', client_token: 'retry-me-1' };

  const first = await requestReplication(north, d.demo.token, image, body);
  assert.equal(first.status, 200, JSON.stringify(first.body));
  const again = await requestReplication(north, d.demo.token, image, body);
  assert.equal(again.status, 200);
  assert.deepEqual(again.body, first.body, 'the first answer, not a new job');
  // The header form names the same token.
  const withoutToken = { region: body.region, agency_name: body.agency_name };
  const byHeader = await fetch(`${north}/v1/cloudimages/${image}/cross_region_copy`, {
    method: 'POST',
    headers: {
      'x-auth-token': d.demo.token,
      'content-type': 'application/json',
      'x-client-token': 'retry-me-1',
    },
    body: JSON.stringify(withoutToken),
  });
  assert.equal(byHeader.status, 200);
  assert.deepEqual(await byHeader.json(), first.body);

  const other = await requestReplication(north, d.demo.token, image, { ...body, region: 'west-1' });
  assert.equal(other.status, 400);
  assert.equal(other.body.error.code, 'IDEMPOTENCY_MISMATCH');
  const differ = await fetch(`${north}/v1/cloudimages/${image}/cross_region_copy`, {
    method: 'POST',
    headers: {
      'x-auth-token': d.demo.token,
      'content-type': 'application/json',
      'x-client-token': 'another',
    },
    body: JSON.stringify(body),
  });
  assert.equal(differ.status, 400);
  assert.match(((await differ.json()) as { error: { message: string } }).error.message, /differ/);

  const jobs = (await api(north, d.demo.token, 'GET', '/v1/cloudimages/jobs')).body.jobs;
  assert.equal(jobs.length, 1, 'one job');
  assert.equal((await waitForJob(north, d.demo.token, first.body.job_id)).status, 'SUCCESS');

  // The multi-image call and the in-region copy take it too.
  const batch = { image_ids: [image], region: 'west-1', agency_name: 'ferry_copy', client_token: 'batch-1' };
  const batchFirst = await api(north, d.demo.token, 'POST', '/v1/cloudimages/cross_region_copy', batch);
  assert.equal(batchFirst.status, 200, JSON.stringify(batchFirst.body));
  const batchAgain = await api(north, d.demo.token, 'POST', '/v1/cloudimages/cross_region_copy', batch);
  assert.deepEqual(batchAgain.body, batchFirst.body);
  const copy = { name: 'copied-once', client_token: 'copy-1' };
  const copyFirst = await api(north, d.demo.token, 'POST', `/v1/cloudimages/${image}/copy`, copy);
  assert.equal(copyFirst.status, 200, JSON.stringify(copyFirst.body));
  const copyAgain = await api(north, d.demo.token, 'POST', `/v1/cloudimages/${image}/copy`, copy);
  assert.deepEqual(copyAgain.body, copyFirst.body);
  const copies = (await api(north, d.demo.token, 'GET', '/v2/images?name=copied-once')).body.images;
  assert.equal(copies.length, 1, 'one copy');

  // A token is the account's: another account's same token is a request of its own.
  const theirs = await uploadImage(d, d.other.token, 'north-1', pseudoRandom(MiB, 82), { name: 'theirs' });
  // An agency of its own, in both regions (each checks it), as the demo account's.
  for (const region of ['north-1', 'south-1']) {
    const agency = await api(d.url(region), d.other.token, 'POST', '/v1/agencies', {
      name: 'ferry_copy',
      policies: [{ region: 'south-1', policy: 'CrossCopyAgencyPolicy' }],
    });
    assert.equal(agency.status, 201, JSON.stringify(agency.body));
  }
  const otherAccount = await requestReplication(north, d.other.token, theirs, body);
  assert.equal(otherAccount.status, 200, JSON.stringify(otherAccount.body));
  assert.notEqual(otherAccount.body.job_id, first.body.job_id);
  await waitForJob(north, d.other.token, otherAccount.body.job_id);
});

test('a refused request under a client token leaves no trace: its retry runs anew', async (t) => {
  const d = await startTestDeployment(t, ['north-1', 'south-1']);
  const north = d.url('north-1');
  const image = await uploadImage(d, d.demo.token, 'north-1', pseudoRandom(MiB, 83), { name: 'later' });
  const body = { region: 'south-1', agency_name: 'ferry_copy', client_token: 'after-fix' };
  await api(north, d.admin.token, 'POST', `/v2/images/${image}/actions/freeze`);
  const refused = await requestReplication(north, d.demo.token, image, body);
  assert.equal(refused.status, 400);
  assert.equal(refused.body.error.code, 'REPLICATION_FROZEN');
  await api(north, d.admin.token, 'POST', `/v2/images/${image}/actions/unfreeze`);
  const started = await requestReplication(north, d.demo.token, image, body);
  assert.equal(started.status, 200, JSON.stringify(started.body));
  await waitForJob(north, d.demo.token, started.body.job_id);
});
