// Identity changes reach a region that was down: tokens revoked, then a user disabled, while south-1 is
// stopped are retried from north-1's durable queue until south-1, back, acknowledges them.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { api, type ApiResponse } from '../helpers/deployment.js';
import { startRegionProcesses } from '../helpers/region-processes.js';

const SETTINGS = {
  replication: { identityDeliveryIntervalMs: 100, identityRetryBaseMs: 100, identityRetryMaxMs: 400 },
};

/** Calls until `done` holds for the answer (10 s at most); resolves the last answer. */
async function eventually(call: () => Promise<ApiResponse>, done: (r: ApiResponse) => boolean) {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const answer = await call();
    if (done(answer) || Date.now() > deadline) return answer;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

test('a revocation made while a region is stopped reaches it once it is back, and so does a disable', async (t) => {
  const p = await startRegionProcesses(t, ['north-1', 'south-1'], SETTINGS);
  const north = p.url('north-1');
  const south = p.url('south-1');
  const user = p.demo.userId;
  const owed = (r: ApiResponse) =>
    r.body.undelivered.map((u: { region: string; kind: string }) => [u.region, u.kind]);
  const made = await api(north, p.demo.token, 'POST', '/v1/tokens', { description: 'ci' });
  assert.deepEqual(made.body.regions, ['north-1', 'south-1']);
  const own = await api(north, p.demo.token, 'POST', '/v1/tokens', { description: 'own' });

  await p.kill('south-1', 'SIGKILL');
  const revoked = await api(north, p.admin.token, 'DELETE', `/v1/admin/users/${user}/tokens/${made.body.id}`);
  assert.equal(revoked.status, 204, 'done here; south-1 gets it later');
  assert.equal((await api(north, made.body.secret, 'GET', '/v1/auth/whoami')).status, 401);
  // The user's own revocation goes the same way (it used to answer 503, and was lost until repeated).
  assert.equal((await api(north, p.demo.token, 'DELETE', `/v1/tokens/${own.body.id}`)).status, 204);

  // Tried again while south-1 is down, with backoff: the administrator sees what is owed and why.
  const waiting = await eventually(
    () => api(north, p.admin.token, 'GET', `/v1/admin/users/${user}/tokens`),
    (r) => r.body.undelivered.every((u: { attempts: number }) => u.attempts >= 2),
  );
  assert.deepEqual(owed(waiting), [
    ['south-1', 'token_revoked'],
    ['south-1', 'token_revoked'],
  ]);
  assert.ok(waiting.body.undelivered.every((u: { last_error: string | null }) => u.last_error !== null));

  await p.start('south-1');
  for (const secret of [made.body.secret, own.body.secret]) {
    const there = await eventually(
      () => api(south, secret, 'GET', '/v1/auth/whoami'),
      (r) => r.status === 401,
    );
    assert.equal(there.status, 401, 'the revoked token is refused in south-1 too');
  }
  assert.equal(
    (await api(south, p.demo.token, 'GET', '/v1/auth/whoami')).status,
    200,
    "the user's others stay",
  );
  const settled = await eventually(
    () => api(north, p.admin.token, 'GET', `/v1/admin/users/${user}/tokens`),
    (r) => r.body.undelivered.length === 0,
  );
  assert.deepEqual(settled.body.undelivered, [], 'acknowledged deliveries leave the queue');

  // A user disabled while south-1 is down is disabled there once it is back.
  await p.kill('south-1', 'SIGKILL');
  const disabled = await api(north, p.admin.token, 'PATCH', `/v1/admin/users/${user}`, { enabled: false });
  assert.equal(disabled.status, 200);
  assert.deepEqual(owed(await api(north, p.admin.token, 'GET', `/v1/admin/users/${user}/tokens`)), [
    ['south-1', 'user_disabled'],
  ]);
  await p.start('south-1');
  const disabledThere = await eventually(
    () => api(south, p.demo.token, 'GET', '/v1/auth/whoami'),
    (r) => r.status === 401,
  );
  assert.equal(disabledThere.body.error.code, 'USER_DISABLED');
  assert.equal((await api(south, p.admin.token, 'GET', '/v1/auth/whoami')).status, 200, 'others stay');
});
