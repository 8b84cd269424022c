// Glance v2 image metadata through HTTP: discovery, create/show/list/patch/delete, tags, protection, the
// status actions, and the clear JSON errors bad input gets.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { api, JSON_PATCH, OCTET, startTestDeployment } from '../helpers/deployment.js';

test('version discovery and schemas answer without a token', async (t) => {
  const d = await startTestDeployment(t, ['north-1']);
  const root = await api(d.url(), undefined, 'GET', '/');
  assert.equal(root.status, 300);
  assert.equal(root.body.versions[0].status, 'CURRENT');
  assert.match(root.body.versions[0].links[0].href, /\/v2\/$/);
  assert.equal((await api(d.url(), undefined, 'GET', '/versions')).status, 200);
  const schema = await api(d.url(), undefined, 'GET', '/v2/schemas/image');
  assert.equal(schema.body.name, 'image');
  assert.deepEqual(schema.body.additionalProperties, { type: 'string', maxLength: 255 });
  const importInfo = await api(d.url(), d.demo.token, 'GET', '/v2/info/import');
  assert.deepEqual(importInfo.body['import-methods'].value, [], 'no import methods: upload the data instead');
  const denied = await api(d.url(), undefined, 'GET', '/v2/images');
  assert.equal(denied.status, 401);
  assert.equal(denied.body.error.code, 'UNAUTHORIZED');
  const bogus = await api(d.url(), 'fry_not-a-token', 'GET', '/v2/images');
  assert.equal(bogus.status, 401);
});

test('image metadata lifecycle: create, show, list, patch, tags, protect, delete', async (t) => {
  const d = await startTestDeployment(t, ['north-1']);
  const token = d.demo.token;
  const created = await api(d.url(), token, 'POST', '/v2/images', {
    name: 'debian-12',
    disk_format: 'qcow2',
    container_format: 'bare',
    min_ram: 512,
    os_distro: 'debian',
    tags: ['base', 'linux'],
  });
  assert.equal(created.status, 201);
  const image = created.body;
  assert.match(image.id, /^[0-9a-f-]{36}$/);
  assert.equal(created.headers.get('location'), `/v2/images/${image.id}`);
  assert.equal(image.status, 'queued');
  assert.equal(image.visibility, 'shared');
  assert.equal(image.owner, d.demo.projects['north-1']);
  assert.equal(image.image_type, 'system-disk');
  assert.equal(image.encrypted, false);
  assert.equal(image.frozen, false);
  assert.equal(image.os_distro, 'debian');
  assert.deepEqual(image.tags, ['base', 'linux']);
  assert.equal(image.self, `/v2/images/${image.id}`);
  assert.equal(image.file, `/v2/images/${image.id}/file`);
  assert.match(image.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);

  const shown = await api(d.url(), token, 'GET', `/v2/images/${image.id}`);
  assert.deepEqual(shown.body, image);

  for (let i = 0; i < 3; i++) {
    await api(d.url(), token, 'POST', '/v2/images', {
      name: `extra-${i}`,
      disk_format: 'raw',
      container_format: 'bare',
    });
  }
  const page1 = await api(d.url(), token, 'GET', '/v2/images?limit=2&sort_key=name&sort_dir=asc');
  assert.deepEqual(
    page1.body.images.map((i: { name: string }) => i.name),
    ['debian-12', 'extra-0'],
  );
  assert.ok(page1.body.next.includes(`marker=${page1.body.images[1].id}`));
  const page2 = await api(d.url(), token, 'GET', page1.body.next);
  assert.deepEqual(
    page2.body.images.map((i: { name: string }) => i.name),
    ['extra-1', 'extra-2'],
  );
  // As Glance: `first` is the same query without the marker.
  assert.equal(page2.body.first, '/v2/images?limit=2&sort_key=name&sort_dir=asc');
  assert.equal((await api(d.url(), token, 'GET', '/v2/images')).body.first, '/v2/images');
  const byTag = await api(d.url(), token, 'GET', '/v2/images?tag=linux&tag=base');
  assert.deepEqual(
    byTag.body.images.map((i: { id: string }) => i.id),
    [image.id],
  );
  const byProperty = await api(d.url(), token, 'GET', '/v2/images?os_distro=debian');
  assert.equal(byProperty.body.images.length, 1);
  const newSort = await api(d.url(), token, 'GET', '/v2/images?sort=name:desc');
  assert.equal(newSort.body.images[0].name, 'extra-2');

  const patched = await api(
    d.url(),
    token,
    'PATCH',
    `/v2/images/${image.id}`,
    [
      { op: 'replace', path: '/name', value: 'debian-12-updated' },
      { op: 'add', path: '/hw_firmware_type', value: 'uefi' },
      { op: 'remove', path: '/os_distro' },
      { op: 'replace', path: '/protected', value: true },
    ],
    JSON_PATCH,
  );
  assert.equal(patched.status, 200, JSON.stringify(patched.body));
  assert.equal(patched.body.name, 'debian-12-updated');
  assert.equal(patched.body.hw_firmware_type, 'uefi');
  assert.equal(patched.body.os_distro, undefined);
  assert.equal(patched.body.protected, true);

  assert.equal((await api(d.url(), token, 'PUT', `/v2/images/${image.id}/tags/new-tag`)).status, 204);
  assert.equal((await api(d.url(), token, 'DELETE', `/v2/images/${image.id}/tags/base`)).status, 204);
  const missingTag = await api(d.url(), token, 'DELETE', `/v2/images/${image.id}/tags/nope`);
  assert.equal(missingTag.status, 404);
  assert.deepEqual((await api(d.url(), token, 'GET', `/v2/images/${image.id}`)).body.tags, [
    'linux',
    'new-tag',
  ]);

  const refused = await api(d.url(), token, 'DELETE', `/v2/images/${image.id}`);
  assert.equal(refused.status, 403);
  assert.equal(refused.body.error.code, 'IMAGE_PROTECTED');
  await api(
    d.url(),
    token,
    'PATCH',
    `/v2/images/${image.id}`,
    [{ op: 'replace', path: '/protected', value: false }],
    JSON_PATCH,
  );
  assert.equal((await api(d.url(), token, 'DELETE', `/v2/images/${image.id}`)).status, 204);
  const gone = await api(d.url(), token, 'GET', `/v2/images/${image.id}`);
  assert.equal(gone.status, 404);
  assert.equal(gone.body.error.code, 'IMAGE_NOT_FOUND');
});

test('PUT /tags/{tag} takes tags of up to 255 characters, URL-encoded; a longer one is a 400', async (t) => {
  const d = await startTestDeployment(t, ['north-1']);
  const token = d.demo.token;
  const image = (await api(d.url(), token, 'POST', '/v2/images', { name: 'tagged' })).body;
  const longest = 'é'.repeat(254) + '/'; // 255 characters, 1531 URL-encoded bytes
  const put = (tag: string) =>
    api(d.url(), token, 'PUT', `/v2/images/${image.id}/tags/${encodeURIComponent(tag)}`);
  assert.equal((await put(longest)).status, 204);
  assert.deepEqual((await api(d.url(), token, 'GET', `/v2/images/${image.id}`)).body.tags, [longest]);
  const tooLong = await put('t'.repeat(256));
  assert.equal(tooLong.status, 400);
  assert.equal(tooLong.body.error.code, 'VALIDATION_FAILED');
  assert.match(tooLong.body.error.message, /255/);
  const removed = await api(
    d.url(),
    token,
    'DELETE',
    `/v2/images/${image.id}/tags/${encodeURIComponent(longest)}`,
  );
  assert.equal(removed.status, 204);
  assert.deepEqual((await api(d.url(), token, 'GET', `/v2/images/${image.id}`)).body.tags, []);
});

test('bad input gets a clear JSON error and changes nothing', async (t) => {
  const d = await startTestDeployment(t, ['north-1']);
  const token = d.demo.token;
  const post = (body: unknown, headers: Record<string, string> = {}) =>
    api(d.url(), token, 'POST', '/v2/images', body, headers);

  const malformed = await post('{"name": "x",', { 'content-type': 'application/json' });
  assert.equal(malformed.status, 400);
  assert.equal(malformed.body.error.code, 'INVALID_JSON');

  const cases: Array<[unknown, number, string, RegExp]> = [
    [{ name: 'x'.repeat(256) }, 400, 'VALIDATION_FAILED', /name/],
    [{ disk_format: 'floppy' }, 400, 'VALIDATION_FAILED', /disk_format/],
    [{ min_ram: 'lots' }, 400, 'VALIDATION_FAILED', /min_ram/],
    [{ protected: 'yes' }, 400, 'VALIDATION_FAILED', /protected/],
    [{ os_distro: 12 }, 400, 'VALIDATION_FAILED', /os_distro/],
    [{ tags: 'one' }, 400, 'VALIDATION_FAILED', /tags/],
    [{ status: 'active' }, 403, 'FORBIDDEN', /read-only/],
    [{ os_glance_x: 'y' }, 403, 'FORBIDDEN', /reserved/],
    [{ source_region: 'mars' }, 403, 'FORBIDDEN', /reserved/],
    [{ visibility: 'public' }, 403, 'FORBIDDEN', /administrator/],
    [{ id: 'not-a-uuid' }, 400, 'VALIDATION_FAILED', /UUID/],
    [[1, 2], 400, 'VALIDATION_FAILED', /object/],
  ];
  for (const [body, status, code, message] of cases) {
    const response = await post(body);
    assert.equal(response.status, status, `${JSON.stringify(body)} → ${JSON.stringify(response.body)}`);
    assert.equal(response.body.error.code, code);
    assert.match(response.body.error.message, message);
  }
  assert.equal((await api(d.url(), token, 'GET', '/v2/images')).body.images.length, 0, 'nothing was created');

  const image = (await post({ name: 'ok', disk_format: 'raw', container_format: 'bare' })).body;
  const wrongType = await api(d.url(), token, 'PATCH', `/v2/images/${image.id}`, [
    { op: 'replace', path: '/name', value: 'x' },
  ]);
  assert.equal(wrongType.status, 415);
  const badOp = await api(
    d.url(),
    token,
    'PATCH',
    `/v2/images/${image.id}`,
    [{ op: 'move', path: '/name' }],
    JSON_PATCH,
  );
  assert.equal(badOp.status, 400);
  const missing = await api(
    d.url(),
    token,
    'PATCH',
    `/v2/images/${image.id}`,
    [{ op: 'replace', path: '/nope', value: 'x' }],
    JSON_PATCH,
  );
  assert.equal(missing.status, 409);
  const coreRemove = await api(
    d.url(),
    token,
    'PATCH',
    `/v2/images/${image.id}`,
    [{ op: 'remove', path: '/name' }],
    JSON_PATCH,
  );
  assert.equal(coreRemove.status, 403);
  const cmk = await api(
    d.url(),
    token,
    'PATCH',
    `/v2/images/${image.id}`,
    [{ op: 'add', path: '/cmk_id', value: 'k' }],
    JSON_PATCH,
  );
  assert.equal(cmk.status, 403);
  assert.equal((await api(d.url(), token, 'GET', `/v2/images/${image.id}`)).body.name, 'ok', 'unchanged');

  for (const query of [
    'limit=-1',
    'limit=abc',
    'sort_key=password',
    'sort_dir=up',
    'marker=00000000-0000-4000-8000-000000000000',
    'status=sleeping',
    'size_min=big',
  ]) {
    const response = await api(d.url(), token, 'GET', `/v2/images?${query}`);
    assert.equal(response.status, 400, query);
    assert.equal(response.body.error.code, 'VALIDATION_FAILED');
  }
  const deactivate = await api(d.url(), token, 'POST', `/v2/images/${image.id}/actions/deactivate`);
  assert.equal(deactivate.status, 400, 'a queued image cannot be deactivated');
  assert.equal(deactivate.body.error.code, 'INVALID_STATUS_TRANSITION');
  const unknownRoute = await api(d.url(), token, 'GET', '/v2/nothing');
  assert.equal(unknownRoute.status, 404);
  assert.equal(unknownRoute.body.error.code, 'NOT_FOUND');
});

test('an administrator freezes an image; a frozen image cannot be changed or deleted', async (t) => {
  const d = await startTestDeployment(t, ['north-1']);
  const image = (await api(d.url(), d.demo.token, 'POST', '/v2/images', { name: 'held' })).body;
  const notAdmin = await api(d.url(), d.demo.token, 'POST', `/v2/images/${image.id}/actions/freeze`);
  assert.equal(notAdmin.status, 403);
  assert.equal(
    (await api(d.url(), d.admin.token, 'POST', `/v2/images/${image.id}/actions/freeze`)).status,
    204,
  );
  const shown = await api(d.url(), d.demo.token, 'GET', `/v2/images/${image.id}`);
  assert.equal(shown.body.frozen, true);
  const patch = await api(
    d.url(),
    d.demo.token,
    'PATCH',
    `/v2/images/${image.id}`,
    [{ op: 'replace', path: '/name', value: 'x' }],
    JSON_PATCH,
  );
  assert.equal(patch.status, 403);
  assert.equal(patch.body.error.code, 'IMAGE_FROZEN');
  assert.equal(
    (await api(d.url(), d.demo.token, 'DELETE', `/v2/images/${image.id}`)).body.error.code,
    'IMAGE_FROZEN',
  );
});

test("a deleted image's ID is never issued again, to anyone; an ID is found in upper case too", async (t) => {
  const d = await startTestDeployment(t, ['north-1']);
  const id = '9cfc3a5e-37a5-4a4e-9b0f-2a8d1e6c7b10';
  const body = { id, name: 'golden', visibility: 'community', disk_format: 'raw', container_format: 'bare' };
  assert.equal((await api(d.url(), d.demo.token, 'POST', '/v2/images', body)).status, 201);
  const upper = await api(d.url(), d.other.token, 'GET', `/v2/images/${id.toUpperCase()}`);
  assert.equal(upper.status, 200);
  assert.equal(upper.body.id, id);
  assert.equal((await api(d.url(), d.demo.token, 'DELETE', `/v2/images/${id}`)).status, 204);
  for (const token of [d.other.token, d.demo.token]) {
    const again = await api(d.url(), token, 'POST', '/v2/images', { ...body, id: id.toUpperCase() });
    assert.equal(again.status, 409);
    assert.equal(again.body.error.code, 'DUPLICATE');
    assert.match(again.body.error.message, /never reused/);
  }
  assert.equal((await api(d.url(), d.other.token, 'GET', `/v2/images/${id}`)).status, 404);
});

test('a JSON patch keeps the rules a create has, and knows only the properties the image has', async (t) => {
  const d = await startTestDeployment(t, ['north-1']);
  const token = d.demo.token;
  const patch = (id: string, ops: unknown[], as = token) =>
    api(d.url(), as, 'PATCH', `/v2/images/${id}`, ops, JSON_PATCH);
  const create = async (body: Record<string, unknown>) =>
    (await api(d.url(), token, 'POST', '/v2/images', { container_format: 'bare', ...body })).body
      .id as string;

  const raw = await create({ name: 'raw', disk_format: 'raw' });
  for (const name of ['toString', 'constructor', '__proto__']) {
    const replaced = await patch(raw, [{ op: 'replace', path: `/${name}`, value: 'x' }]);
    assert.equal(replaced.status, 409, `replace /${name}: ${JSON.stringify(replaced.body)}`);
    assert.equal((await patch(raw, [{ op: 'remove', path: `/${name}` }])).status, 409, `remove /${name}`);
  }
  for (const name of ['id', 'status', 'checksum', 'os_glance_x']) {
    const removed = await patch(raw, [{ op: 'remove', path: `/${name}` }]);
    assert.equal(removed.status, 403, `remove /${name}: ${JSON.stringify(removed.body)}`);
  }
  const isoType = await patch(raw, [{ op: 'replace', path: '/image_type', value: 'iso' }]);
  assert.equal(isoType.status, 400);
  assert.match(isoType.body.error.message, /image_type iso/);
  // Glance clients set disk_format alone: image_type follows it where the two must agree, as on create.
  const isoFormat = await patch(raw, [{ op: 'replace', path: '/disk_format', value: 'iso' }]);
  assert.equal(isoFormat.status, 200, JSON.stringify(isoFormat.body));
  assert.equal(isoFormat.body.image_type, 'iso');
  const rawAgain = await patch(raw, [{ op: 'replace', path: '/disk_format', value: 'raw' }]);
  assert.equal(rawAgain.body.image_type, 'system-disk');
  const dataDisk = await create({ name: 'data', disk_format: 'raw', image_type: 'data-disk' });
  const qcow2 = await patch(dataDisk, [{ op: 'replace', path: '/disk_format', value: 'qcow2' }]);
  assert.equal(qcow2.body.image_type, 'data-disk', 'a type the format allows is kept');
  const disagree = await patch(raw, [
    { op: 'replace', path: '/disk_format', value: 'iso' },
    { op: 'replace', path: '/image_type', value: 'data-disk' },
  ]);
  assert.equal(disagree.status, 400, 'a type named in the same patch is not overridden');
  const both = await patch(raw, [
    { op: 'replace', path: '/disk_format', value: 'iso' },
    { op: 'replace', path: '/image_type', value: 'iso' },
  ]);
  assert.equal(both.status, 200, 'both together agree');

  // The v2.0 media type's older body (the operation named by its key), and JSON pointers' only escapes.
  const draft = await api(
    d.url(),
    token,
    'PATCH',
    `/v2/images/${raw}`,
    [
      { replace: '/name', value: 'renamed' },
      { add: '/a~1b', value: 'slash' },
    ],
    { 'content-type': 'application/openstack-images-v2.0-json-patch' },
  );
  assert.equal(draft.status, 200, JSON.stringify(draft.body));
  assert.equal(draft.body.name, 'renamed');
  assert.equal(draft.body['a/b'], 'slash');
  for (const [ops, what] of [
    [[{ op: 'add', path: '/a~2b', value: 'x' }], '~2 is no escape'],
    [[{ op: 'add', path: '/a~', value: 'x' }], 'a lone ~'],
    [[{ replace: '/name', value: 'x' }], 'a v2.0 body under the v2.1 type'],
  ] as const) {
    const refused = await patch(raw, [...ops]);
    assert.equal(refused.status, 400, `${what}: ${JSON.stringify(refused.body)}`);
    assert.equal(refused.body.error.code, 'VALIDATION_FAILED');
  }
  const tooManyTags = Array.from({ length: 129 }, (_, i) => `t${i}`);
  const tagged = await patch(raw, [{ op: 'replace', path: '/tags', value: tooManyTags }]);
  assert.equal(tagged.status, 413, 'a tag quota, as PUT /tags/{tag} and Glance answer');
  assert.equal(tagged.body.error.code, 'LIMIT_EXCEEDED');
  const createdTagged = await api(d.url(), token, 'POST', '/v2/images', { name: 'tags', tags: tooManyTags });
  assert.equal(createdTagged.status, 413);
  assert.equal(createdTagged.body.error.code, 'LIMIT_EXCEEDED');

  const encrypted = await create({ name: 'enc', disk_format: 'raw', cmk_id: 'key-1' });
  for (const visibility of ['community', 'public']) {
    const made = await api(d.url(), d.admin.token, 'POST', '/v2/images', { cmk_id: 'key-1', visibility });
    assert.equal(made.status, 403, `create an encrypted ${visibility} image`);
    const changed = await patch(
      encrypted,
      [{ op: 'replace', path: '/visibility', value: visibility }],
      d.admin.token,
    );
    assert.equal(changed.status, 403, `make an encrypted image ${visibility}`);
    assert.match(changed.body.error.message, /Encrypted/);
  }
  const shown = await api(d.url(), token, 'GET', `/v2/images/${encrypted}`);
  assert.equal(shown.body.visibility, 'shared', 'unchanged');
});

test('every answer keeps the error format: wrong method 405 with Allow, bad URL, huge headers, empty JSON bodies', async (t) => {
  const d = await startTestDeployment(t, ['north-1']);
  const token = d.demo.token;
  const id = (await api(d.url(), token, 'POST', '/v2/images', { name: 'x', disk_format: 'raw' })).body.id;
  for (const [method, path, allow] of [
    ['PUT', '/v2/images', 'GET, HEAD, POST'],
    ['GET', `/v2/images/${id}/actions/deactivate`, 'POST'],
    ['DELETE', '/v1/cloudimages/jobs', 'GET, HEAD'],
  ] as const) {
    const response = await api(d.url(), token, method, path);
    assert.equal(response.status, 405, `${method} ${path}: ${JSON.stringify(response.body)}`);
    assert.equal(response.body.error.code, 'METHOD_NOT_ALLOWED');
    assert.equal(response.headers.get('allow'), allow);
  }
  assert.equal((await api(d.url(), token, 'GET', '/v2/nothing')).status, 404, 'an unknown path stays 404');
  for (const [method, path] of [
    ['GET', '/v2/images/'],
    ['DELETE', `/v2/images/${id}/members/`],
    ['PUT', `/v2/images/${id}/tags/`],
  ] as const) {
    const empty = await api(d.url(), token, method, path);
    assert.equal(empty.status, 404, `${method} ${path}: an empty ID names nothing`);
    assert.equal(empty.body.error.code, 'NOT_FOUND');
  }
  const requestId = (await api(d.url(), token, 'GET', `/v2/images/${id}`)).headers.get(
    'x-openstack-request-id',
  );
  assert.match(requestId ?? '', /^req-[0-9a-f-]{36}$/, "Glance's request id header");

  // Only the media types a route reads: a JSON object sent as text/plain is 415, not "not a JSON object".
  const text = await api(d.url(), token, 'POST', '/v2/images', '{"name":"t"}', {
    'content-type': 'text/plain',
  });
  assert.equal(text.status, 415);
  assert.equal(text.body.error.code, 'UNSUPPORTED_MEDIA_TYPE');

  const badUrl = await api(d.url(), token, 'GET', '/v2/images/%');
  assert.equal(badUrl.status, 400);
  assert.equal(badUrl.body.error.code, 'BAD_REQUEST');

  const huge = await fetch(`${d.url()}/v2/images`, {
    headers: { 'x-auth-token': token, 'x-pad': 'a'.repeat(20_000) },
  });
  assert.equal(huge.status, 431);
  assert.equal(((await huge.json()) as { error: { code: string } }).error.code, 'HEADERS_TOO_LARGE');

  // A body-less action or delete with a JSON Content-Type is fine, as in Glance.
  const json = { 'content-type': 'application/json' };
  const created = await api(d.url(), token, 'POST', '/v2/images', {
    name: 'y',
    disk_format: 'raw',
    container_format: 'bare',
  });
  const deleted = await api(d.url(), token, 'DELETE', `/v2/images/${created.body.id}`, undefined, json);
  assert.equal(deleted.status, 204, JSON.stringify(deleted.body));
  const noBody = await api(d.url(), token, 'POST', '/v2/images', undefined, json);
  assert.equal(noBody.status, 400);
  assert.equal(noBody.body.error.code, 'VALIDATION_FAILED', 'a create still needs its body');
  const badPatch = await api(d.url(), token, 'PATCH', `/v2/images/${id}`, '[{"op":', JSON_PATCH);
  assert.equal(badPatch.body.error.code, 'INVALID_JSON');
  assert.match(badPatch.body.error.message, /openstack-images-v2.1-json-patch/);
});

test("list filters take Glance's operators (in:, gt:/lt: on times), tags as they are, and refuse what they cannot read", async (t) => {
  const d = await startTestDeployment(t, ['north-1']);
  const token = d.demo.token;
  const make = async (body: Record<string, unknown>) =>
    (await api(d.url(), token, 'POST', '/v2/images', { container_format: 'bare', ...body })).body;
  // Times are shown, and compared, to the second.
  const a = await make({ name: 'alpha', disk_format: 'raw', tags: ['red,blue'] });
  await new Promise((r) => setTimeout(r, 1010));
  const b = await make({ name: 'beta', disk_format: 'qcow2' });
  await new Promise((r) => setTimeout(r, 1010));
  const c = await make({
    name: 'gamma,delta',
    disk_format: 'iso',
    image_type: 'iso',
    min_ram: 512,
    min_disk: 2,
  });
  const names = async (query: string) => {
    const response = await api(d.url(), token, 'GET', `/v2/images?${query}&sort=name:asc`);
    assert.equal(response.status, 200, `${query}: ${JSON.stringify(response.body)}`);
    return response.body.images.map((i: { name: string }) => i.name);
  };
  assert.deepEqual(await names('name=in:alpha,beta'), ['alpha', 'beta']);
  assert.deepEqual(await names('name=in:"gamma,delta",beta'), ['beta', 'gamma,delta']);
  // Ferry's contains: what a search box asks, whatever the case, with LIKE's wildcards taken as text.
  assert.deepEqual(await names('name=contains:ET'), ['beta']);
  assert.deepEqual(await names('name=contains:a'), ['alpha', 'beta', 'gamma,delta']);
  assert.deepEqual(await names('name=contains:%25'), []);
  assert.deepEqual(await names('name=contains:_'), []);
  assert.equal((await api(d.url(), token, 'GET', '/v2/images?name=contains:')).status, 400);
  // Ferry's owner=neq: every owner but one (here: none of the caller's images).
  assert.deepEqual(await names(`owner=neq:${a.owner}`), []);
  assert.deepEqual(await names(`owner=neq:someone-else&name=in:alpha,beta`), ['alpha', 'beta']);
  assert.deepEqual(await names('disk_format=in:raw,iso'), ['alpha', 'gamma,delta']);
  assert.deepEqual(await names(`id=in:${a.id},${c.id.toUpperCase()}`), ['alpha', 'gamma,delta']);
  assert.deepEqual(await names('status=in:queued,active'), ['alpha', 'beta', 'gamma,delta']);
  assert.deepEqual(await names(`created_at=gt:${b.created_at}`), ['gamma,delta']);
  assert.deepEqual(await names(`created_at=lte:${b.created_at}`), ['alpha', 'beta']);
  assert.deepEqual(await names(`updated_at=neq:${a.updated_at}`), ['beta', 'gamma,delta']);
  assert.deepEqual(await names(`tag=${encodeURIComponent('red,blue')}`), ['alpha'], 'a tag is taken whole');
  const data = Buffer.alloc(3 * 65536, 7);
  assert.equal((await api(d.url(), token, 'PUT', `/v2/images/${a.id}/file`, data, OCTET)).status, 204);
  const uploaded = (await api(d.url(), token, 'GET', `/v2/images/${a.id}`)).body;
  // Core columns match by exact value (as `glance image-list --checksum/--hash` ask), never as properties.
  assert.deepEqual(await names(`checksum=${uploaded.checksum}`), ['alpha']);
  assert.deepEqual(await names(`os_hash_value=${uploaded.os_hash_value}&os_hash_algo=sha512`), ['alpha']);
  assert.deepEqual(await names(`size=${data.length}&virtual_size=${data.length}`), ['alpha']);
  assert.deepEqual(await names('min_ram=512&min_disk=2'), ['gamma,delta']);
  assert.deepEqual(await names('min_ram=0'), ['alpha', 'beta']);
  assert.deepEqual(await names(`checksum=${'0'.repeat(32)}`), []);

  for (const query of [
    'status=in:queued,sleeping',
    'created_at=after:2020-01-01',
    'created_at=gt:yesterday',
    'created_at=',
    'updated_at=gt:',
    'created_at=%0A',
    'min_ram=lots',
    'checksum=a&checksum=b',
    'sort_key=name,size&sort_dir=asc,desc,asc',
    'sort_dir=asc&sort_dir=desc',
    'sort=name:asc:x',
    Array.from({ length: 65 }, (_, i) => `tag=t${i}`).join('&'),
    Array.from({ length: 1000 }, (_, i) => `p${i}=x`).join('&'),
  ]) {
    const response = await api(d.url(), token, 'GET', `/v2/images?${query}`);
    assert.equal(response.status, 400, `${query.slice(0, 60)}: ${JSON.stringify(response.body)}`);
    assert.equal(response.body.error.code, 'VALIDATION_FAILED');
  }
});
