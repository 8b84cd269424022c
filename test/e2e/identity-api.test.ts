// The identity API: tokens (issue, list, revoke), agencies with per-region policies, and the administrator's
// accounts, users, projects and tokens; none of it crosses accounts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { api, startTestDeployment } from '../helpers/deployment.js';

test('a user issues, lists and revokes tokens; a revoked token is refused', async (t) => {
  const d = await startTestDeployment(t, ['north-1']);
  const issued = await api(d.url(), d.demo.token, 'POST', '/v1/tokens', {
    description: 'ci',
    ttl_seconds: 3600,
  });
  assert.equal(issued.status, 201);
  assert.match(issued.body.secret, /^fry_/);
  const whoami = await api(d.url(), issued.body.secret, 'GET', '/v1/auth/whoami');
  assert.equal(whoami.body.account.name, 'demo');
  assert.equal(whoami.body.project.name, 'north-1');
  const listed = await api(d.url(), d.demo.token, 'GET', '/v1/tokens');
  assert.ok(
    listed.body.tokens.some(
      (tk: { id: string; description: string }) => tk.id === issued.body.id && tk.description === 'ci',
    ),
  );
  assert.ok(!JSON.stringify(listed.body).includes(issued.body.secret), 'secrets are never listed');
  const child = await api(d.url(), issued.body.secret, 'POST', '/v1/tokens', { ttl_seconds: 30 * 24 * 3600 });
  assert.equal(child.status, 201);
  assert.equal(
    child.body.expires_at,
    issued.body.expires_at,
    'a token made with a token does not outlive it',
  );
  assert.equal(
    (await api(d.url(), d.other.token, 'DELETE', `/v1/tokens/${issued.body.id}`)).status,
    404,
    'not yours',
  );
  const grandchild = await api(d.url(), child.body.secret, 'POST', '/v1/tokens', { description: 'gc' });
  assert.equal(grandchild.status, 201);
  assert.equal((await api(d.url(), d.demo.token, 'DELETE', `/v1/tokens/${issued.body.id}`)).status, 204);
  const refused = await api(d.url(), issued.body.secret, 'GET', '/v1/auth/whoami');
  assert.equal(refused.status, 401);
  // A leaked token's holder keeps nothing through the tokens it made, nor through theirs.
  for (const made of [child, grandchild])
    assert.equal((await api(d.url(), made.body.secret, 'GET', '/v1/auth/whoami')).status, 401);
  assert.equal((await api(d.url(), d.demo.token, 'GET', '/v1/auth/whoami')).status, 200, 'the parent stays');
  assert.equal((await api(d.url(), d.demo.token, 'POST', '/v1/tokens', { ttl_seconds: 5 })).status, 400);
});

test('agencies hold per-region policies and stay inside their account', async (t) => {
  const d = await startTestDeployment(t, ['north-1', 'south-1']);
  const created = await api(d.url(), d.other.token, 'POST', '/v1/agencies', {
    name: 'copier',
    policies: [{ region: 'south-1', policy: 'CrossCopyAgencyPolicy' }],
  });
  assert.equal(created.status, 201);
  assert.deepEqual(created.body.policies, [{ region: 'south-1', policy: 'CrossCopyAgencyPolicy' }]);
  assert.equal((await api(d.url(), d.other.token, 'POST', '/v1/agencies', { name: 'copier' })).status, 409);
  const badRegion = await api(d.url(), d.other.token, 'POST', '/v1/agencies', {
    name: 'x',
    policies: [{ region: 'mars-1', policy: 'CrossCopyAgencyPolicy' }],
  });
  assert.equal(badRegion.status, 400);
  assert.match(badRegion.body.error.message, /region/);
  assert.equal(
    (await api(d.url(), d.demo.token, 'GET', '/v1/agencies/copier')).status,
    404,
    'other accounts do not see it',
  );
  // Another account choosing the same id: refused, without claiming it has an agency of that name.
  const sameId = await api(d.url(), d.demo.token, 'POST', '/v1/agencies', {
    name: 'mine',
    id: created.body.id,
  });
  assert.equal(sameId.status, 409);
  assert.match(sameId.body.error.message, /or the id is taken/);
  assert.doesNotMatch(JSON.stringify(sameId.body), /copier/);
  assert.equal((await api(d.url(), d.other.token, 'DELETE', '/v1/agencies/copier')).status, 204);
  assert.equal((await api(d.url(), d.other.token, 'GET', '/v1/agencies/copier')).status, 404);
});

test('an administrator creates an account, a user, a project and a token for it', async (t) => {
  const d = await startTestDeployment(t, ['north-1']);
  assert.equal(
    (await api(d.url(), d.demo.token, 'POST', '/v1/admin/accounts', { name: 'acme' })).status,
    403,
  );
  const account = await api(d.url(), d.admin.token, 'POST', '/v1/admin/accounts', { name: 'acme' });
  assert.equal(account.status, 201);
  assert.equal(
    (await api(d.url(), d.admin.token, 'POST', '/v1/admin/accounts', { name: 'acme' })).status,
    409,
  );
  const user = await api(d.url(), d.admin.token, 'POST', `/v1/admin/accounts/${account.body.id}/users`, {
    name: 'ada',
  });
  assert.equal(user.body.is_admin, false, 'a boolean, as whoami shows it');
  const project = await api(
    d.url(),
    d.admin.token,
    'POST',
    `/v1/admin/accounts/${account.body.id}/projects`,
    { name: 'north-1' },
  );
  assert.equal(project.body.region, 'north-1');
  const wrongProject = await api(d.url(), d.admin.token, 'POST', `/v1/admin/users/${user.body.id}/tokens`, {
    project_id: d.demo.projects['north-1'],
  });
  assert.equal(wrongProject.status, 400, "a token acts only in the user's own account");
  const token = await api(d.url(), d.admin.token, 'POST', `/v1/admin/users/${user.body.id}/tokens`, {
    project_id: project.body.id,
  });
  assert.equal(token.status, 201);
  const whoami = await api(d.url(), token.body.secret, 'GET', '/v1/auth/whoami');
  assert.equal(whoami.body.user.name, 'ada');
  assert.equal(whoami.body.account.name, 'acme');
  const images = await api(d.url(), token.body.secret, 'GET', '/v2/images');
  assert.deepEqual(images.body.images, []);
  const badName = await api(d.url(), d.admin.token, 'POST', '/v1/admin/accounts', { name: '../etc' });
  assert.equal(badName.status, 400);
});

test('revoking a token that works in several regions revokes it in all of them', async (t) => {
  const d = await startTestDeployment(t, ['north-1', 'south-1']);
  const token = d.other.token; // provisioned into both regions
  for (const region of ['north-1', 'south-1'])
    assert.equal((await api(d.url(region), token, 'GET', '/v1/auth/whoami')).status, 200, region);
  const whoami = await api(d.url('north-1'), token, 'GET', '/v1/tokens');
  const own = whoami.body.tokens.find((tk: { revoked: boolean }) => !tk.revoked);
  assert.equal((await api(d.url('north-1'), token, 'DELETE', `/v1/tokens/${own.id}`)).status, 204);
  for (const region of ['north-1', 'south-1'])
    assert.equal((await api(d.url(region), token, 'GET', '/v1/auth/whoami')).status, 401, region);
  assert.equal(
    (await api(d.url('south-1'), d.demo.token, 'GET', '/v1/auth/whoami')).status,
    200,
    'others stay',
  );
  const internal = await api(d.url('south-1'), undefined, 'POST', '/internal/v1/tokens/revoke', {
    user_id: 'x',
    secret_hash: '0'.repeat(64),
  });
  assert.equal(internal.status, 401, 'only regions may call it');
});

test('a token made with a token works in every region its parent works in, in the same projects', async (t) => {
  const d = await startTestDeployment(t, ['north-1', 'south-1']);
  const made = await api(d.url('north-1'), d.other.token, 'POST', '/v1/tokens', { description: 'ci' });
  assert.equal(made.status, 201);
  assert.deepEqual(made.body.regions, ['north-1', 'south-1']);
  const south = await api(d.url('south-1'), made.body.secret, 'GET', '/v1/auth/whoami');
  assert.equal(south.status, 200);
  assert.equal(south.body.project.name, 'south-1', "the parent's project there");
  const listed = await api(d.url('south-1'), made.body.secret, 'GET', '/v1/tokens');
  const copy = listed.body.tokens.find((tk: { description: string }) => tk.description === 'ci');
  assert.equal(copy.expires_at, made.body.expires_at);
  // A token made in south-1 with it: revoking `made` in north-1 revokes it in both regions.
  const child = await api(d.url('south-1'), made.body.secret, 'POST', '/v1/tokens', { description: 'child' });
  assert.equal(child.status, 201);
  assert.deepEqual(child.body.regions, ['south-1', 'north-1']);
  // Revoked where it was made, it stops everywhere.
  assert.equal(
    (await api(d.url('north-1'), made.body.secret, 'DELETE', `/v1/tokens/${made.body.id}`)).status,
    204,
  );
  assert.equal((await api(d.url('south-1'), made.body.secret, 'GET', '/v1/auth/whoami')).status, 401);
  for (const region of ['north-1', 'south-1'])
    assert.equal(
      (await api(d.url(region), child.body.secret, 'GET', '/v1/auth/whoami')).status,
      401,
      `the token made with it, in ${region}`,
    );
  assert.equal(
    (await api(d.url('south-1'), d.other.token, 'GET', '/v1/auth/whoami')).status,
    200,
    'the parent stays',
  );
});
