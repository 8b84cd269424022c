// Token administration: an administrator lists and revokes another user's tokens (one or all) and disables or
// enables the user, in every region; nobody else may.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { api, startTestDeployment } from '../helpers/deployment.js';

const REGIONS = ['north-1', 'south-1'];

test("an administrator lists and revokes another user's tokens, one or all, in every region", async (t) => {
  const d = await startTestDeployment(t, REGIONS);
  const user = d.other.userId;
  const made = await api(d.url('north-1'), d.other.token, 'POST', '/v1/tokens', { description: 'ci' });
  assert.deepEqual(made.body.regions, REGIONS);
  for (const [method, path, body] of [
    ['GET', `/v1/admin/users/${user}/tokens`],
    ['DELETE', `/v1/admin/users/${user}/tokens/${made.body.id}`],
    ['DELETE', `/v1/admin/users/${user}/tokens`],
    ['PATCH', `/v1/admin/users/${user}`, { enabled: false }],
  ] as const) {
    const refused = await api(d.url(), d.demo.token, method, path, body);
    assert.equal(refused.status, 403, `${method} ${path}: administrators only`);
    assert.equal(refused.body.error.code, 'FORBIDDEN');
  }
  assert.equal((await api(d.url(), d.other.token, 'GET', '/v1/auth/whoami')).status, 200, 'nothing changed');

  const listed = await api(d.url(), d.admin.token, 'GET', `/v1/admin/users/${user}/tokens`);
  assert.equal(listed.status, 200);
  assert.ok(listed.body.tokens.some((tk: { id: string }) => tk.id === made.body.id));
  assert.ok(!JSON.stringify(listed.body).includes(made.body.secret), 'secrets are never listed');
  assert.deepEqual(listed.body.undelivered, []);
  assert.equal(
    (await api(d.url(), d.admin.token, 'GET', `/v1/admin/users/${'0'.repeat(32)}/tokens`)).status,
    404,
  );

  const revoked = await api(
    d.url(),
    d.admin.token,
    'DELETE',
    `/v1/admin/users/${user}/tokens/${made.body.id}`,
  );
  assert.equal(revoked.status, 204);
  for (const region of REGIONS) {
    assert.equal((await api(d.url(region), made.body.secret, 'GET', '/v1/auth/whoami')).status, 401, region);
    assert.equal((await api(d.url(region), d.other.token, 'GET', '/v1/auth/whoami')).status, 200, region);
  }
  assert.equal(
    (await api(d.url(), d.admin.token, 'DELETE', `/v1/admin/users/${d.demo.userId}/tokens/${made.body.id}`))
      .status,
    404,
    "not that user's token",
  );
  const afterOne = await api(d.url(), d.admin.token, 'GET', `/v1/admin/users/${user}/tokens`);
  assert.equal(afterOne.body.tokens.find((tk: { id: string }) => tk.id === made.body.id).revoked, true);
  assert.deepEqual(afterOne.body.undelivered, [], 'every region acknowledged it');

  assert.equal(
    (await api(d.url('south-1'), d.admin.token, 'DELETE', `/v1/admin/users/${user}/tokens`)).status,
    204,
  );
  for (const region of REGIONS) {
    assert.equal((await api(d.url(region), d.other.token, 'GET', '/v1/auth/whoami')).status, 401, region);
    assert.equal(
      (await api(d.url(region), d.demo.token, 'GET', '/v1/auth/whoami')).status,
      200,
      'others stay',
    );
  }
  // A token issued afterwards is not touched by the earlier revocation.
  const fresh = await api(d.url('north-1'), d.admin.token, 'POST', `/v1/admin/users/${user}/tokens`, {
    project_id: d.other.projects['north-1'],
  });
  assert.equal(fresh.status, 201);
  for (const region of REGIONS)
    assert.equal((await api(d.url(region), fresh.body.secret, 'GET', '/v1/auth/whoami')).status, 200, region);
});

test('a disabled user is refused in every region with USER_DISABLED until enabled, and gets no new token', async (t) => {
  const d = await startTestDeployment(t, REGIONS);
  const user = d.other.userId;
  const path = `/v1/admin/users/${user}`;
  assert.equal((await api(d.url(), d.admin.token, 'PATCH', path, { enabled: 'no' })).status, 400);
  assert.equal((await api(d.url(), d.admin.token, 'PATCH', path)).status, 400, 'enabled is required');
  const self = await api(d.url(), d.admin.token, 'PATCH', `/v1/admin/users/${d.admin.userId}`, {
    enabled: false,
  });
  assert.equal(self.status, 403, 'an administrator cannot lock themselves out');

  const disabled = await api(d.url('north-1'), d.admin.token, 'PATCH', path, { enabled: false });
  assert.equal(disabled.status, 200);
  assert.equal(disabled.body.enabled, false);
  assert.equal(disabled.body.id, user);
  for (const region of REGIONS) {
    const refused = await api(d.url(region), d.other.token, 'GET', '/v1/auth/whoami');
    assert.equal(refused.status, 401, region);
    assert.equal(refused.body.error.code, 'USER_DISABLED', region);
  }
  const account = await api(
    d.url('south-1'),
    d.admin.token,
    'GET',
    `/v1/admin/accounts/${d.other.accountId}`,
  );
  assert.equal(account.body.users[0].enabled, false, 'disabled in the other region too');
  const issued = await api(d.url('south-1'), d.admin.token, 'POST', `/v1/admin/users/${user}/tokens`, {
    project_id: d.other.projects['south-1'],
  });
  assert.equal(issued.status, 409, 'no new token for a disabled user');
  assert.equal((await api(d.url(), d.demo.token, 'GET', '/v1/auth/whoami')).status, 200, 'others stay');

  const enabled = await api(d.url('south-1'), d.admin.token, 'PATCH', path, { enabled: true });
  assert.equal(enabled.body.enabled, true);
  // Disabling revoked the tokens issued until then: enabling does not bring them back (as in Keystone).
  for (const region of REGIONS) {
    const old = await api(d.url(region), d.other.token, 'GET', '/v1/auth/whoami');
    assert.equal(old.body.error.code, 'UNAUTHORIZED', region);
  }
  const fresh = await api(d.url('south-1'), d.admin.token, 'POST', `/v1/admin/users/${user}/tokens`, {
    project_id: d.other.projects['south-1'],
  });
  assert.equal(fresh.status, 201);
  assert.deepEqual(fresh.body.regions, ['south-1', 'north-1'], 'enabled in north-1 too: it takes the copy');
  assert.equal((await api(d.url('north-1'), fresh.body.secret, 'GET', '/v1/auth/whoami')).status, 200);
});
