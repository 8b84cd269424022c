// Issue 20, row 15: two answers tell whether an ID exists: creating an image with an ID already in use
// (409, whoever owns it, as Glance answers) and adding a member that is no project of the region (400).
// Both are accepted (docs/security.md, "Existence oracles"): the IDs are 122 or 128 random bits, so the
// answers confirm an ID one already holds and cannot be used to find any. This test holds what that rests
// on: the IDs are random, and the answers carry nothing of the other account's resource.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { api, startTestDeployment } from '../../helpers/deployment.js';
import { pseudoRandom, uploadImage } from '../../helpers/replication.js';

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const HEX_128 = /^[0-9a-f]{32}$/;

test('an ID in use answers the same 409 whoever owns it, and tells nothing of the image', async (t) => {
  const d = await startTestDeployment(t, ['north-1']);
  const url = d.url();
  const secretName = 'payroll-db-2026';
  const theirs = await uploadImage(d, d.demo.token, 'north-1', pseudoRandom(64 * 1024, 1), {
    name: secretName,
  });
  const mine = await uploadImage(d, d.other.token, 'north-1', pseudoRandom(64 * 1024, 2));
  assert.match(theirs, UUID_V4, 'server-made image IDs are random (version 4 UUIDs)');
  assert.notEqual(theirs, mine);

  const body = (id: string) => ({ id, name: 'mine', disk_format: 'raw', container_format: 'bare' });
  const onTheirs = await api(url, d.other.token, 'POST', '/v2/images', body(theirs));
  const onMine = await api(url, d.other.token, 'POST', '/v2/images', body(mine));
  assert.equal(onTheirs.status, 409);
  assert.equal(onTheirs.body.error.code, 'DUPLICATE');
  assert.deepEqual(
    { ...onTheirs.body, error: { ...onTheirs.body.error, message: '' } },
    { ...onMine.body, error: { ...onMine.body.error, message: '' } },
    "the answer for another account's ID has the shape of one's own",
  );
  assert.equal(
    onTheirs.body.error.message.replace(theirs, 'ID'),
    onMine.body.error.message.replace(mine, 'ID'),
  );
  assert.ok(!JSON.stringify(onTheirs.body).includes(secretName));
  assert.ok(!JSON.stringify(onTheirs.body).includes(d.demo.projects['north-1']!));
  const seen = await api(url, d.other.token, 'GET', `/v2/images/${theirs}`);
  assert.equal(seen.status, 404, 'the ID in use is still not visible');
  const untouched = await api(url, d.demo.token, 'GET', `/v2/images/${theirs}`);
  assert.equal(untouched.body.name, secretName);
});

test('adding a member tells a project of the region from none, and project IDs are 128 random bits', async (t) => {
  const d = await startTestDeployment(t, ['north-1']);
  const url = d.url();
  const projects = [d.demo, d.other, d.admin].map((who) => who.projects['north-1']!);
  for (const project of projects) assert.match(project, HEX_128);
  assert.equal(new Set(projects).size, projects.length);

  const id = await uploadImage(d, d.demo.token, 'north-1', pseudoRandom(64 * 1024, 3), {
    visibility: 'shared',
  });
  const unknown = await api(url, d.demo.token, 'POST', `/v2/images/${id}/members`, {
    member: 'f'.repeat(32),
  });
  assert.equal(unknown.status, 400);
  assert.equal(unknown.body.error.code, 'VALIDATION_FAILED');
  const known = await api(url, d.demo.token, 'POST', `/v2/images/${id}/members`, {
    member: d.other.projects['north-1'],
  });
  assert.equal(known.status, 200, JSON.stringify(known.body));
  assert.deepEqual(Object.keys(known.body).sort(), [
    'created_at',
    'image_id',
    'member_id',
    'schema',
    'status',
    'updated_at',
  ]);
});
