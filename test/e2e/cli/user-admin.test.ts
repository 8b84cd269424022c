// The administrator's token commands through the CLI: list and revoke a user's tokens, one or all, and disable
// and enable the user, each checked against what the API says.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { api, startTestDeployment } from '../../helpers/deployment.js';
import { createCliSession, parseJson } from './cli-session.js';

test("admin token list|revoke --user and admin user disable|enable act on another user's tokens", async (t) => {
  const d = await startTestDeployment(t, ['north-1', 'south-1']);
  const admin = await createCliSession(t, d);
  await admin.run(['configure', '--token', d.admin.token]);
  const made = await api(d.url(), d.other.token, 'POST', '/v1/tokens', { description: 'ci' });

  const listed = parseJson(
    await admin.run(['admin', 'token', 'list', '--user', 'olga', '--account', 'other', '-o', 'json']),
  );
  assert.ok(listed.some((tk: { id: string }) => tk.id === made.body.id));
  const one = await admin.run(['admin', 'token', 'revoke', '--user', d.other.userId, made.body.id]);
  assert.equal(one.code, 0, one.stderr);
  assert.equal((await api(d.url('south-1'), made.body.secret, 'GET', '/v1/auth/whoami')).status, 401);
  assert.equal((await api(d.url('south-1'), d.other.token, 'GET', '/v1/auth/whoami')).status, 200);
  const usage = await admin.run(['admin', 'token', 'revoke', '--all']);
  assert.equal(usage.code, 2, '--all needs --user');

  const disabled = await admin.run(['admin', 'user', 'disable', 'olga', '--account', 'other', '-o', 'json']);
  assert.equal(disabled.code, 0, disabled.stderr);
  assert.equal(parseJson(disabled).enabled, false);
  const refused = await api(d.url('south-1'), d.other.token, 'GET', '/v1/auth/whoami');
  assert.equal(refused.body.error.code, 'USER_DISABLED');
  const enabled = await admin.run(['admin', 'user', 'enable', d.other.userId, '-o', 'json']);
  assert.equal(parseJson(enabled).enabled, true);
  const fresh = await api(d.url(), d.admin.token, 'POST', `/v1/admin/users/${d.other.userId}/tokens`, {
    project_id: d.other.projects['north-1'],
  });
  assert.equal((await api(d.url('south-1'), fresh.body.secret, 'GET', '/v1/auth/whoami')).status, 200);
  const all = await admin.run(['admin', 'token', 'revoke', '--user', 'olga', '--account', 'other', '--all']);
  assert.equal(all.code, 0, all.stderr);
  for (const region of ['north-1', 'south-1'])
    assert.equal((await api(d.url(region), fresh.body.secret, 'GET', '/v1/auth/whoami')).status, 401, region);
});
