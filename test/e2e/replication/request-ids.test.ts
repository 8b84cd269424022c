// Request IDs that follow a replication across regions (issue 21, point 3): the replication request's ID (its
// `x-openstack-request-id`, and the `request_id` of its answer and its jobs) is on the source's lines for the
// request and for the destination's reads of the image, and on the destination's lines for creating the
// replica and for the worker's run. A user cannot choose the ID of their own request. Real `ferry serve`
// processes from the build (dist/), each logging JSON lines to a file.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { api } from '../../helpers/deployment.js';
import { startRegionProcesses } from '../../helpers/region-processes.js';
import { pseudoRandom, requestReplication, uploadImage, waitForJob } from '../../helpers/replication.js';

const MiB = 1024 * 1024;

interface LogLine {
  reqId?: string;
  msg?: string;
  req?: { url?: string; method?: string };
}

async function logLines(dataDir: string, region: string): Promise<LogLine[]> {
  const text = await readFile(join(dataDir, `${region}.log`), 'utf8');
  return text
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as LogLine);
}

test('one request ID finds a replication in the logs of both regions', async (t) => {
  const d = await startRegionProcesses(t, ['north-1', 'south-1'], {
    replication: { pollMs: 50, retryBaseMs: 100 },
  });
  const token = d.demo.token;
  const data = pseudoRandom(3 * MiB + 12_345, 7);
  const imageId = await uploadImage(d, token, 'north-1', data, { name: 'traced' });

  const started = await requestReplication(d.url('north-1'), token, imageId, {
    region: 'south-1',
    agency_name: 'ferry_copy',
  });
  assert.equal(started.status, 200, JSON.stringify(started.body));
  const requestId = started.headers.get('x-openstack-request-id')!;
  assert.match(requestId, /^req-[0-9a-f-]{36}$/);
  assert.equal(started.body.request_id, requestId, 'the answer names the request by the ID of its header');
  const job = await waitForJob(d.url('north-1'), token, started.body.job_id as string);
  assert.equal(job.status, 'SUCCESS', JSON.stringify(job));
  assert.equal(job.request_id, requestId);

  const north = (await logLines(d.dataDir, 'north-1')).filter((l) => l.reqId === requestId);
  const south = (await logLines(d.dataDir, 'south-1')).filter((l) => l.reqId === requestId);
  const urls = (lines: LogLine[]) =>
    lines.flatMap((l) => (l.req?.url ? [`${l.req.method} ${l.req.url}`] : []));
  const messages = (lines: LogLine[]) => lines.map((l) => l.msg);

  // The source: the user's request, then the destination's reads of the granted image.
  assert.ok(
    urls(north).includes(`POST /v1/cloudimages/${imageId}/cross_region_copy`),
    `north-1: ${urls(north)}`,
  );
  for (const read of [
    /^GET \/internal\/v1\/grants\/\w+\/manifest/,
    /^POST \/internal\/v1\/grants\/\w+\/chunks/,
  ]) {
    assert.ok(
      urls(north).some((u) => read.test(u)),
      `north-1 logs the destination's reads of the image under the request's ID: ${urls(north)}`,
    );
  }
  assert.ok(
    urls(north).some((u) => u.startsWith('POST /internal/v1/jobs/')),
    `north-1 logs the destination's report of the job's end: ${urls(north)}`,
  );
  // The destination: the replica's creation, and the worker's run from start to end.
  assert.ok(urls(south).includes('POST /internal/v1/replicas'), `south-1: ${urls(south)}`);
  assert.ok(messages(south).includes('replication run starts'), `south-1: ${messages(south)}`);
  assert.ok(messages(south).includes('replication finished'), `south-1: ${messages(south)}`);

  // Another request has an ID of its own.
  const other = await api(d.url('north-1'), token, 'GET', `/v2/images/${imageId}`);
  assert.notEqual(other.headers.get('x-openstack-request-id'), requestId);

  // A user's request does not take the ID it names, on a user route or (without the form) anywhere.
  for (const [path, carried] of [
    [`/v2/images/${imageId}`, requestId],
    ['/internal/v1/replicas/0123', 'chosen-by-the-sender'],
  ] as const) {
    const answer = await fetch(`${d.url('north-1')}${path}`, {
      headers: { 'x-auth-token': token, 'x-ferry-request-id': carried },
    });
    await answer.arrayBuffer();
    assert.notEqual(answer.headers.get('x-openstack-request-id'), carried, path);
  }
});
