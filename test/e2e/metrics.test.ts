// GET /metrics (issue 21, operations): each region's figures in Prometheus text format, for an administrator.
// A scrape after an upload, a download and a replication shows their bytes on each side, the requests by
// route pattern, and the jobs by status; /readyz asks the database and the blob store.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { api, startTestDeployment } from '../helpers/deployment.js';
import { pseudoRandom, startReplication, uploadImage, waitForJob } from '../helpers/replication.js';

const MiB = 1024 * 1024;

/** The value of one series of a scrape, by its name and labels as they appear (`{}` when it has none). */
function sample(scrape: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of scrape.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const [series, value] = [line.slice(0, line.lastIndexOf(' ')), line.slice(line.lastIndexOf(' ') + 1)];
    if (Object.entries(labels).every(([key, v]) => series.includes(`${key}="${v}"`))) return Number(value);
  }
  return undefined;
}

async function scrape(url: string, token: string): Promise<string> {
  const response = await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(response.status, 200);
  assert.match(response.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  return response.text();
}

test('a scrape shows the bytes of a replication that just ran, on both sides, and the requests by route', async (t) => {
  const d = await startTestDeployment(t, ['north-1', 'south-1']);
  const north = d.url('north-1');
  const south = d.url('south-1');
  const token = d.demo.token;
  const data = pseudoRandom(5 * MiB + 123, 7);
  const id = await uploadImage(d, token, 'north-1', data);
  const downloaded = await fetch(`${north}/v2/images/${id}/file`, { headers: { 'x-auth-token': token } });
  assert.equal((await downloaded.arrayBuffer()).byteLength, data.length);
  const job = await waitForJob(north, token, await startReplication(north, token, id));
  assert.equal(job.status, 'SUCCESS');

  const source = await scrape(north, d.admin.token);
  const destination = await scrape(south, d.admin.token);
  const region = (name: string) => ({ region: name });
  assert.equal(sample(source, 'ferry_uploaded_bytes_total', region('north-1')), data.length);
  assert.equal(sample(source, 'ferry_downloaded_bytes_total', region('north-1')), data.length);
  assert.equal(sample(source, 'ferry_replication_sent_bytes_total', region('north-1')), data.length);
  assert.equal(sample(destination, 'ferry_replication_received_bytes_total', region('south-1')), data.length);
  assert.equal(sample(destination, 'ferry_replication_sent_bytes_total', region('south-1')), 0);
  assert.equal(sample(source, 'ferry_jobs', { region: 'north-1', role: 'source', status: 'SUCCESS' }), 1);
  assert.equal(
    sample(destination, 'ferry_jobs', { region: 'south-1', role: 'destination', status: 'SUCCESS' }),
    1,
  );
  const uploads = sample(source, 'ferry_http_requests_total', {
    method: 'PUT',
    route: '/v2/images/:id/file',
    status: '204',
  });
  assert.equal(uploads, 1, 'requests are counted by route pattern, not by URL');
  assert.ok(!source.includes(id), 'no image ID appears in a label');
  assert.ok(source.includes('ferry_process_cpu_seconds_total'), "Node's own process figures are there");
  assert.equal(sample(source, 'ferry_blob_driver_errors_total', region('north-1')) ?? 0, 0);

  assert.equal((await api(north, undefined, 'GET', '/metrics')).status, 401);
  assert.equal((await api(north, token, 'GET', '/metrics')).status, 403, 'figures of the whole region');
  const ready = await api(north, undefined, 'GET', '/readyz');
  assert.equal(ready.status, 200);
  assert.equal(ready.body.status, 'ready');
});
