// Region discovery: GET /v1/regions answers the catalog as clients may have it (no region's secret), with the
// regions each may replicate into, without a token.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startTestDeployment } from '../helpers/deployment.js';

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
