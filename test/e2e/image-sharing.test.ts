// Image data and sharing across accounts: another account sees nothing of a private image, on every route,
// until it is shared and accepted; members are projects of the image's region, and learn nothing of each other.
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { api, JSON_PATCH, OCTET, startTestDeployment } from '../helpers/deployment.js';
import { makeTempDir } from '../helpers/tmp.js';
import { createImage, download, upload } from '../helpers/images.js';

const MiB = 1024 * 1024;

test('another account gets 404 on every route for a private image, and sees it once shared and accepted', async (t) => {
  const d = await startTestDeployment(t, ['north-1']);
  const dir = await makeTempDir(t);
  const file = join(dir, 'disk.raw');
  await writeFile(file, Buffer.alloc(2 * MiB, 1));
  const id = await createImage(d, d.demo.token, { name: 'mine', disk_format: 'raw', visibility: 'private' });
  assert.equal((await upload(d, d.demo.token, id, file)).status, 204);
  const other = d.other.token;
  const otherProject = d.other.projects['north-1']!;

  const routes: Array<[string, string, unknown?, Record<string, string>?]> = [
    ['GET', `/v2/images/${id}`],
    ['PATCH', `/v2/images/${id}`, [{ op: 'replace', path: '/name', value: 'x' }], JSON_PATCH],
    ['DELETE', `/v2/images/${id}`],
    ['GET', `/v2/images/${id}/file`],
    ['PUT', `/v2/images/${id}/file`, 'data', OCTET],
    ['PUT', `/v2/images/${id}/tags/t`],
    ['DELETE', `/v2/images/${id}/tags/t`],
    ['GET', `/v2/images/${id}/members`],
    ['POST', `/v2/images/${id}/members`, { member: otherProject }],
    ['GET', `/v2/images/${id}/members/${otherProject}`],
    ['PUT', `/v2/images/${id}/members/${otherProject}`, { status: 'accepted' }],
    ['DELETE', `/v2/images/${id}/members/${otherProject}`],
    ['POST', `/v2/images/${id}/actions/deactivate`],
    ['POST', `/v2/images/${id}/actions/reactivate`],
  ];
  for (const [method, path, body, headers] of routes) {
    const response = await api(d.url(), other, method, path, body, headers);
    assert.equal(response.status, 404, `${method} ${path}: ${JSON.stringify(response.body)}`);
    assert.doesNotMatch(JSON.stringify(response.body), /mine/, 'nothing about the image leaks');
  }
  const list = await api(d.url(), other, 'GET', '/v2/images?visibility=all');
  assert.deepEqual(list.body.images, []);
  assert.equal(
    (await api(d.url(), d.demo.token, 'GET', `/v2/images/${id}`)).body.name,
    'mine',
    'still intact',
  );

  // Members are only for shared images.
  const notShared = await api(d.url(), d.demo.token, 'POST', `/v2/images/${id}/members`, {
    member: otherProject,
  });
  assert.equal(notShared.status, 403);
  await api(
    d.url(),
    d.demo.token,
    'PATCH',
    `/v2/images/${id}`,
    [{ op: 'replace', path: '/visibility', value: 'shared' }],
    JSON_PATCH,
  );
  const added = await api(d.url(), d.demo.token, 'POST', `/v2/images/${id}/members`, {
    member: otherProject,
  });
  assert.equal(added.status, 200);
  assert.equal(added.body.status, 'pending');
  assert.equal(
    (await api(d.url(), d.demo.token, 'POST', `/v2/images/${id}/members`, { member: otherProject })).status,
    409,
  );

  assert.equal(
    (await api(d.url(), other, 'GET', `/v2/images/${id}`)).status,
    200,
    'a pending member may look',
  );
  assert.deepEqual(
    (await api(d.url(), other, 'GET', '/v2/images')).body.images,
    [],
    'but it is not listed yet',
  );
  const ownerAnswers = await api(d.url(), d.demo.token, 'PUT', `/v2/images/${id}/members/${otherProject}`, {
    status: 'accepted',
  });
  assert.equal(ownerAnswers.status, 403, 'only the member accepts');
  const accepted = await api(d.url(), other, 'PUT', `/v2/images/${id}/members/${otherProject}`, {
    status: 'accepted',
  });
  assert.equal(accepted.body.status, 'accepted');
  const listed = await api(d.url(), other, 'GET', '/v2/images');
  assert.deepEqual(
    listed.body.images.map((i: { id: string }) => i.id),
    [id],
  );
  const { response, data } = await download(d, other, id);
  assert.equal(response.status, 200);
  assert.ok(data.equals(await readFile(file)));
  const patch = await api(
    d.url(),
    other,
    'PATCH',
    `/v2/images/${id}`,
    [{ op: 'replace', path: '/name', value: 'x' }],
    JSON_PATCH,
  );
  assert.equal(patch.status, 403, 'a member may not change the image');
  assert.equal((await api(d.url(), other, 'DELETE', `/v2/images/${id}`)).status, 403);
  const members = await api(d.url(), other, 'GET', `/v2/images/${id}/members`);
  assert.equal(members.body.members.length, 1);

  assert.equal(
    (await api(d.url(), d.demo.token, 'DELETE', `/v2/images/${id}/members/${otherProject}`)).status,
    204,
  );
  assert.equal((await api(d.url(), other, 'GET', `/v2/images/${id}`)).status, 404, 'unshared again');
});

test("a member is a project of the image's region, not one of the same account elsewhere", async (t) => {
  const d = await startTestDeployment(t, ['north-1', 'south-1']);
  const id = await createImage(d, d.demo.token, { name: 'shared', disk_format: 'raw', visibility: 'shared' });
  const elsewhere = await api(d.url(), d.demo.token, 'POST', `/v2/images/${id}/members`, {
    member: d.other.projects['south-1'],
  });
  assert.equal(elsewhere.status, 400, JSON.stringify(elsewhere.body));
  assert.match(elsewhere.body.error.message, /in region north-1/);
  const here = await api(d.url(), d.demo.token, 'POST', `/v2/images/${id}/members`, {
    member: d.other.projects['north-1'],
  });
  assert.equal(here.status, 200);
});

test('members learn nothing of each other; a frozen image keeps its members; admins read deactivated data', async (t) => {
  const d = await startTestDeployment(t, ['north-1']);
  const dir = await makeTempDir(t);
  const file = join(dir, 'disk.raw');
  await writeFile(file, Buffer.alloc(MiB, 7));
  const owner = d.demo.token;
  const id = await createImage(d, owner, { name: 'shared', disk_format: 'raw', visibility: 'shared' });
  assert.equal((await upload(d, owner, id, file)).status, 204);
  const [otherProject, adminProject] = [d.other.projects['north-1']!, d.admin.projects['north-1']!];
  for (const member of [otherProject, adminProject])
    assert.equal((await api(d.url(), owner, 'POST', `/v2/images/${id}/members`, { member })).status, 200);

  // Whether another project is a member is not for a member to find out, by any route.
  const elsewhere = '0'.repeat(32);
  for (const project of [adminProject, elsewhere]) {
    const answered = await api(d.url(), d.other.token, 'PUT', `/v2/images/${id}/members/${project}`, {
      status: 'accepted',
    });
    assert.equal(answered.status, 404, `PUT as another member: ${JSON.stringify(answered.body)}`);
    assert.equal(answered.body.error.code, 'MEMBER_NOT_FOUND');
    assert.equal(
      (await api(d.url(), d.other.token, 'GET', `/v2/images/${id}/members/${project}`)).status,
      404,
    );
  }

  await api(d.url(), d.admin.token, 'POST', `/v2/images/${id}/actions/freeze`);
  const removed = await api(d.url(), owner, 'DELETE', `/v2/images/${id}/members/${otherProject}`);
  assert.equal(removed.status, 403, 'a frozen image is not shared differently');
  assert.equal(removed.body.error.code, 'IMAGE_FROZEN');
  await api(d.url(), d.admin.token, 'POST', `/v2/images/${id}/actions/unfreeze`);

  // Only shared images have members (Glance): a community image's member list is refused, not empty.
  const community = await createImage(d, owner, {
    name: 'open',
    disk_format: 'raw',
    visibility: 'community',
  });
  const listed = await api(d.url(), d.other.token, 'GET', `/v2/images/${community}/members`);
  assert.equal(listed.status, 403);
  assert.match(listed.body.error.message, /only shared images have members/);

  assert.equal((await api(d.url(), owner, 'POST', `/v2/images/${id}/actions/deactivate`)).status, 204);
  assert.equal((await download(d, owner, id)).response.status, 403, 'deactivated: not for the owner');
  const { response, data } = await download(d, d.admin.token, id);
  assert.equal(response.status, 200, 'an administrator still reads it (to inspect it)');
  assert.ok(data.equals(await readFile(file)));
});
