// A webhook cannot make a region reach its own loopback services, the metadata address or a private network
// (server-side request forgery): by default a URL naming one is refused when registered, a stored one is
// refused again at delivery and reaches nothing, and a redirect is never followed.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { test, type TestContext } from 'node:test';
import { api, startTestDeployment } from '../../helpers/deployment.js';
import { pseudoRandom, startReplication, uploadImage, waitForJob } from '../../helpers/replication.js';
import { insertWebhook, listDeliveries } from '../../../src/store/events.js';

/** A receiver on loopback that counts what reaches it and answers with `answer`. */
async function receiver(
  t: TestContext,
  answer: (res: import('node:http').ServerResponse) => void,
): Promise<{ url: string; hits: () => number }> {
  let hits = 0;
  const server: Server = createServer((req, res) => {
    hits += 1;
    req.resume();
    answer(res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}/hook`, hits: () => hits };
}

async function settledDeliveries(db: Parameters<typeof listDeliveries>[0], webhookId: string) {
  for (let i = 0; i < 200; i++) {
    const rows = await listDeliveries(db, webhookId, 100);
    if (rows.length > 0 && rows.every((row) => row.attempts > 0)) return rows;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error('no delivery was attempted');
}

const FAST_HOOKS = { webhookIntervalMs: 50, webhookRetryBaseMs: 60_000, webhookAttempts: 1 };

test('by default a webhook must reach a public address: registered or stored, loopback is refused', async (t) => {
  const d = await startTestDeployment(t, ['north-1', 'south-1'], FAST_HOOKS);
  const north = d.url('north-1');
  const token = d.demo.token;
  const target = await receiver(t, (res) => res.writeHead(204).end());
  for (const url of [target.url, 'http://localhost:9/x', 'http://169.254.169.254/latest/meta-data/']) {
    const refused = await api(north, token, 'POST', '/v1/webhooks', { url });
    assert.equal(refused.status, 400, url);
    assert.equal(refused.body.error.code, 'VALIDATION_FAILED');
    assert.match(refused.body.error.message, /public address/);
  }

  // A webhook stored before the rule (or under a name that resolved elsewhere then) is refused at delivery.
  const db = d.regions.find((r) => r.name === 'north-1')!.ctx.db;
  const webhookId = 'a'.repeat(32);
  await insertWebhook(db, {
    id: webhookId,
    account_id: d.demo.accountId,
    url: target.url,
    secret: 's'.repeat(43),
    created_at: new Date().toISOString(),
  });
  const id = await uploadImage(d, token, 'north-1', pseudoRandom(256 * 1024, 1));
  const job = await waitForJob(north, token, await startReplication(north, token, id));
  assert.equal(job.status, 'SUCCESS');
  const deliveries = await settledDeliveries(db, webhookId);
  assert.ok(
    deliveries.every((row) => row.status === 'failed' && /public address/.test(row.last_error ?? '')),
  );
  assert.equal(target.hits(), 0, 'nothing reached the loopback receiver');
});

test('a redirect is not followed, even where private addresses are allowed', async (t) => {
  const d = await startTestDeployment(t, ['north-1', 'south-1'], {
    ...FAST_HOOKS,
    webhookPrivateAddresses: true,
  });
  const north = d.url('north-1');
  const token = d.demo.token;
  const inner = await receiver(t, (res) => res.writeHead(204).end());
  const outer = await receiver(t, (res) => res.writeHead(307, { location: inner.url }).end());
  const hook = await api(north, token, 'POST', '/v1/webhooks', { url: outer.url });
  assert.equal(hook.status, 201, JSON.stringify(hook.body));
  const id = await uploadImage(d, token, 'north-1', pseudoRandom(256 * 1024, 2));
  const job = await waitForJob(north, token, await startReplication(north, token, id));
  assert.equal(job.status, 'SUCCESS');
  const db = d.regions.find((r) => r.name === 'north-1')!.ctx.db;
  const deliveries = await settledDeliveries(db, hook.body.id);
  assert.ok(deliveries.every((row) => row.last_status === 307 && row.status === 'failed'));
  assert.ok(outer.hits() > 0);
  assert.equal(inner.hits(), 0, 'the redirect was not followed');
});
