// Events and webhooks: a replication's events (started, 25/50/75%, its end) are listed by GET /v1/events and
// delivered to the account's webhook, signed with its secret, again after the receiver refuses once.
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { createServer, type IncomingMessage } from 'node:http';
import { test } from 'node:test';
import { api, startTestDeployment } from '../../helpers/deployment.js';
import { pseudoRandom, startReplication, uploadImage, waitForJob } from '../../helpers/replication.js';

const MiB = 1024 * 1024;

interface Received {
  id: string;
  type: string;
  signature: string;
  valid: boolean;
  body: { type: string; job_id: string; details: { process_percent: number } };
}

async function bodyOf(request: IncomingMessage): Promise<string> {
  const parts: Buffer[] = [];
  for await (const part of request) parts.push(part as Buffer);
  return Buffer.concat(parts).toString('utf8');
}

test("a replication's events reach the webhook, signed, even when the receiver refuses the first delivery", async (t) => {
  const d = await startTestDeployment(t, ['north-1', 'south-1'], {
    webhookPrivateAddresses: true, // the receiver below listens on loopback
    webhookIntervalMs: 50,
    webhookRetryBaseMs: 100,
    chunksPerRequest: 1,
    parallelFetches: 1,
  });
  const north = d.url('north-1');
  const token = d.demo.token;

  let secret = '';
  let refusedOnce = false;
  const received: Received[] = [];
  const receiver = createServer((request, response) => {
    void bodyOf(request).then((body) => {
      if (!refusedOnce) {
        refusedOnce = true;
        response.writeHead(500).end('not now');
        return;
      }
      const signature = String(request.headers['x-ferry-signature']);
      const expected = `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
      received.push({
        id: String(request.headers['x-ferry-event-id']),
        type: String(request.headers['x-ferry-event-type']),
        signature,
        valid: signature === expected,
        body: JSON.parse(body) as Received['body'],
      });
      response.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => receiver.close(() => resolve())));
  const port = (receiver.address() as { port: number }).port;

  const hook = await api(north, token, 'POST', '/v1/webhooks', { url: `http://127.0.0.1:${port}/ferry` });
  assert.equal(hook.status, 201, JSON.stringify(hook.body));
  secret = hook.body.secret;
  const listed = (await api(north, token, 'GET', '/v1/webhooks')).body.webhooks;
  assert.equal(listed.length, 1);
  assert.equal(listed[0].secret, undefined, 'the secret is shown once');
  assert.equal((await api(north, token, 'POST', '/v1/webhooks', { url: 'ftp://x' })).status, 400);

  const image = await uploadImage(d, token, 'north-1', pseudoRandom(8 * MiB, 141), { name: 'watched' });
  const jobId = await startReplication(north, token, image);
  assert.equal((await waitForJob(north, token, jobId)).status, 'SUCCESS');

  const order = [
    'replication.started',
    'replication.progress.25',
    'replication.progress.50',
    'replication.progress.75',
    'replication.succeeded',
  ];
  const events = (await api(north, token, 'GET', `/v1/events?job_id=${jobId}`)).body.events;
  assert.deepEqual(
    events.map((e: { type: string }) => e.type),
    order,
  );
  // The request's own events besides its one job's: started once its job was, finished once it ended.
  const requestId = (await api(north, token, 'GET', `/v1/cloudimages/job/${jobId}`)).body.request_id;
  const ofRequest = (await api(north, token, 'GET', `/v1/events?request_id=${requestId}`)).body.events;
  assert.deepEqual(
    ofRequest.map((e: { type: string }) => e.type).sort(),
    [...order, 'request.finished', 'request.started'].sort(),
  );
  const all = [...order, 'request.started', 'request.finished'];
  const deadline = Date.now() + 15_000;
  while (received.length < all.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(
    [...received].map((r) => r.type).sort(),
    [...all].sort(),
    'every event delivered, the refused one again',
  );
  for (const r of received) {
    assert.ok(r.valid, `${r.type} is signed with the webhook's secret`);
    assert.equal(r.body.job_id, r.type.startsWith('request.') ? requestId : jobId);
    assert.equal(r.body.type, r.type);
  }
  assert.equal(new Set(received.map((r) => r.id)).size, all.length);
  const deliveries = (await api(north, token, 'GET', `/v1/webhooks/${hook.body.id}/deliveries`)).body
    .deliveries;
  assert.equal(deliveries.length, all.length);
  assert.ok(deliveries.every((x: { status: string }) => x.status === 'delivered'));
  assert.ok(
    deliveries.some((x: { attempts: number }) => x.attempts === 2),
    'the refused one was sent twice',
  );

  // Filters, and another account sees none of it.
  const byType = (await api(north, token, 'GET', '/v1/events?type=replication.succeeded')).body.events;
  assert.equal(byType.length, 1);
  assert.deepEqual((await api(north, d.other.token, 'GET', '/v1/events')).body.events, []);
  assert.equal((await api(north, d.other.token, 'DELETE', `/v1/webhooks/${hook.body.id}`)).status, 404);
  assert.equal((await api(north, token, 'DELETE', `/v1/webhooks/${hook.body.id}`)).status, 204);
});

test('a cancelled replication ends with replication.cancelled', async (t) => {
  const d = await startTestDeployment(t, ['north-1', 'south-1'], { bandwidthLimit: 128 * 1024 });
  const north = d.url('north-1');
  const token = d.demo.token;
  const image = await uploadImage(d, token, 'north-1', pseudoRandom(4 * MiB, 142), { name: 'stopped' });
  const jobId = await startReplication(north, token, image);
  await api(north, token, 'POST', `/v1/cloudimages/job/${jobId}/cancel`);
  const types = (await api(north, token, 'GET', `/v1/events?job_id=${jobId}`)).body.events.map(
    (e: { type: string }) => e.type,
  );
  assert.equal(types[0], 'replication.started');
  assert.equal(types.at(-1), 'replication.cancelled');
});

test('a request to two regions has its own events: started with both jobs, finished with how each ended', async (t) => {
  // Capped (2 MiB take 4 s), so that the cancel finds its job running.
  const d = await startTestDeployment(t, ['north-1', 'south-1', 'west-1'], { bandwidthLimit: 512 * 1024 });
  const north = d.url('north-1');
  const token = d.demo.token;
  const image = await uploadImage(d, token, 'north-1', pseudoRandom(2 * MiB, 143), { name: 'twice' });
  const started = await api(north, token, 'POST', `/v1/cloudimages/${image}/cross_region_copy`, {
    regions: ['south-1', 'west-1'],
    agency_name: 'ferry_copy',
  });
  assert.equal(started.status, 200, JSON.stringify(started.body));
  const requestId = started.body.request_id as string;
  // The request's ID is the API request's own (x-openstack-request-id), which its calls between regions carry.
  assert.match(requestId, /^req-[0-9a-f-]{36}$/);
  assert.equal(started.headers.get('x-openstack-request-id'), requestId);
  const [toSouth, toWest] = started.body.jobs.map((j: { job_id: string }) => j.job_id);
  await api(north, token, 'POST', `/v1/cloudimages/job/${toWest}/cancel`);
  assert.equal((await waitForJob(north, token, toSouth)).status, 'SUCCESS');
  await waitForJob(north, token, toWest);

  const events = (await api(north, token, 'GET', `/v1/events?request_id=${requestId}`)).body.events;
  const request = events.filter((e: { type: string }) => e.type.startsWith('request.'));
  assert.deepEqual(
    request.map((e: { type: string; job_id: string; image_id: string }) => [e.type, e.job_id, e.image_id]),
    [
      ['request.started', requestId, image],
      ['request.finished', requestId, image],
    ],
  );
  const finished = request[1].details;
  assert.deepEqual([finished.succeeded, finished.failed, finished.cancelled], [1, 0, 1]);
  assert.deepEqual(
    finished.jobs.map((j: { job_id: string; dest_region: string; status: string }) => [
      j.job_id,
      j.dest_region,
      j.status,
    ]),
    [
      [toSouth, 'south-1', 'SUCCESS'],
      [toWest, 'west-1', 'CANCELLED'],
    ],
  );
  // Every job event of the request carries its ID too.
  const jobEvents = events.filter((e: { type: string }) => !e.type.startsWith('request.'));
  assert.ok(jobEvents.some((e: { job_id: string }) => e.job_id === toSouth));
  assert.ok(jobEvents.some((e: { type: string }) => e.type === 'replication.cancelled'));
  assert.ok(jobEvents.every((e: { request_id: string }) => e.request_id === requestId));
});
