// Region discovery: GET /v1/regions answers the catalog as clients may have it (no region's secret), with the
// regions each may replicate into, without a token.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { api, startTestDeployment } from '../helpers/deployment.js';

test('GET /v1/regions lists each region with its endpoint and the regions it may replicate into', async (t) => {
  const d = await startTestDeployment(t, ['north-1', 'south-1', 'west-1']);
  const response = await fetch(`${d.url('south-1')}/v1/regions`); // no token
  assert.equal(response.status, 200);
  const text = await response.text();
  const body = JSON.parse(text) as {
    region: string;
    regions: Array<{ name: string; endpoint: string; display_name: string; replicates_to: string[] }>;
  };
  assert.equal(body.region, 'south-1');
  assert.deepEqual(
    body.regions.map((r) => [r.name, r.endpoint, [...r.replicates_to].sort()]),
    [
      ['north-1', d.url('north-1'), ['south-1', 'west-1']],
      ['south-1', d.url('south-1'), ['north-1', 'west-1']],
      ['west-1', d.url('west-1'), ['north-1', 'south-1']],
    ],
  );
  assert.doesNotMatch(text, /secret/i, 'no region secret is shown');
});

test('GET /v1/limits gives the limits a caller meets, from the deployment settings', async (t) => {
  const d = await startTestDeployment(t, ['north-1'], {
    limits: { maxImageBytes: 7 * 1024 ** 3, maxRunningJobsPerUser: 3 },
  });
  const anonymous = await fetch(`${d.url()}/v1/limits`);
  assert.equal(anonymous.status, 401, 'a token is needed');
  const answer = await api(d.url(), d.demo.token, 'GET', '/v1/limits');
  assert.equal(answer.status, 200);
  assert.equal(answer.body.region, 'north-1');
  assert.equal(answer.body.max_replication_image_bytes, 7 * 1024 ** 3);
  assert.equal(answer.body.max_running_replications_per_user, 3);
  assert.equal(answer.body.max_members_per_image, 128);
  assert.equal(answer.body.max_tags_per_image, 128);
  assert.equal(answer.body.client_token_ttl_seconds, 24 * 3600);
});
