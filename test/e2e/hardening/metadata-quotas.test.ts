// Issue 20, row 1: an image's metadata and a project's images are bounded (Glance's image_property_quota and
// image_tag_quota, a byte cap on both together, and images per project), on create, patch, tag, in-region
// copy and replica alike; an honest client with normal metadata is unaffected. On SQLite and PostgreSQL.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { dialects } from '../../helpers/db.js';
import { api, startTestDeployment } from '../../helpers/deployment.js';
import { pseudoRandom, requestReplication, uploadImage } from '../../helpers/replication.js';

const KiB = 1024;

/** `count` free-form properties `p<i>` (padded to `nameLength` characters) of `value`. */
function properties(count: number, value: string, from = 0, nameLength = 0): Record<string, string> {
  return Object.fromEntries(
    Array.from({ length: count }, (_, i) => [`p${from + i}`.padEnd(nameLength, 'n'), value]),
  );
}

function patchAdding(props: Record<string, string>) {
  return Object.entries(props).map(([name, value]) => ({ op: 'add', path: `/${name}`, value }));
}

const PATCH = { 'content-type': 'application/openstack-images-v2.1-json-patch' };

for (const { name: dialect, skip } of dialects()) {
  describe(`metadata and image quotas on ${dialect}`, { skip }, () => {
    test('an honest image with 20 properties and 10 tags is created, patched, tagged and copied', async (t) => {
      const d = await startTestDeployment(t, ['north-1'], {}, {}, {}, dialect);
      const id = await uploadImage(d, d.demo.token, 'north-1', pseudoRandom(64 * KiB, 1), {
        ...properties(20, 'a value of normal length'),
        tags: Array.from({ length: 10 }, (_, i) => `tag-${i}`),
      });
      const url = d.url();
      const patched = await api(
        url,
        d.demo.token,
        'PATCH',
        `/v2/images/${id}`,
        patchAdding({ extra: 'x' }),
        PATCH,
      );
      assert.equal(patched.status, 200, JSON.stringify(patched.body));
      assert.equal((await api(url, d.demo.token, 'PUT', `/v2/images/${id}/tags/one-more`)).status, 204);
      const copy = await api(url, d.demo.token, 'POST', `/v1/cloudimages/${id}/copy`, { name: 'copy' });
      assert.equal(copy.status, 200, JSON.stringify(copy.body));
      const copied = await api(url, d.demo.token, 'GET', `/v2/images/${copy.body.image_id}`);
      assert.equal(copied.body.p19, 'a value of normal length');
      assert.equal(copied.body.tags.length, 11);
    });

    test('129 properties, or more than 64 KiB of metadata, are refused 413 on create and patch', async (t) => {
      const d = await startTestDeployment(t, ['north-1'], {}, {}, {}, dialect);
      const url = d.url();
      const create = (body: Record<string, unknown>) => api(url, d.demo.token, 'POST', '/v2/images', body);

      const tooMany = await create({ name: 'many', ...properties(129, 'v') });
      assert.equal(tooMany.status, 413);
      assert.equal(tooMany.body.error.code, 'LIMIT_EXCEEDED');
      assert.match(tooMany.body.error.message, /at most 128 properties/);
      const full = await create({ name: 'full', ...properties(128, 'v') });
      assert.equal(full.status, 201, 'exactly the quota is accepted');
      const over = await api(
        url,
        d.demo.token,
        'PATCH',
        `/v2/images/${full.body.id}`,
        patchAdding({ one: 'v' }),
        PATCH,
      );
      assert.equal(over.status, 413);
      const shown = await api(url, d.demo.token, 'GET', `/v2/images/${full.body.id}`);
      assert.equal(shown.body.one, undefined, 'the refused patch changed nothing');
      // Replacing a property keeps the count: allowed at the quota.
      const replaced = await api(
        url,
        d.demo.token,
        'PATCH',
        `/v2/images/${full.body.id}`,
        [{ op: 'replace', path: '/p0', value: 'w' }],
        PATCH,
      );
      assert.equal(replaced.status, 200, JSON.stringify(replaced.body));

      // 100-character names and 255 two-byte characters per value: 610 bytes a property, 110 weigh 67,100.
      const heavy = 'é'.repeat(255);
      const tooHeavy = await create({ name: 'heavy', ...properties(110, heavy, 0, 100) });
      assert.equal(tooHeavy.status, 413);
      assert.match(tooHeavy.body.error.message, /at most 65536 bytes/);
      const nearly = await create({ name: 'nearly', ...properties(60, heavy, 0, 100) });
      assert.equal(nearly.status, 201);
      const heavier = await api(
        url,
        d.demo.token,
        'PATCH',
        `/v2/images/${nearly.body.id}`,
        patchAdding(properties(50, heavy, 60, 100)),
        PATCH,
      );
      assert.equal(heavier.status, 413);
      // Tags count towards the bytes too.
      let refusedTag: number | undefined;
      for (let i = 0; i < 128 && refusedTag === undefined; i++) {
        const tag = `${String(i).padStart(3, '0')}${'t'.repeat(252)}`;
        const tagged = await api(url, d.demo.token, 'PUT', `/v2/images/${nearly.body.id}/tags/${tag}`);
        if (tagged.status === 413) refusedTag = i;
        else assert.equal(tagged.status, 204);
      }
      assert.ok(refusedTag !== undefined && refusedTag > 0, 'a tag past the byte cap is refused');
      const listed = await api(url, d.demo.token, 'GET', '/v2/images');
      const bytes = Buffer.byteLength(JSON.stringify(listed.body));
      assert.ok(bytes < 4 * 64 * KiB, `the owner's list stays small (${bytes} bytes)`);
    });

    test('a project holds at most limits.maxImagesPerProject images: create, copy and replica are refused past it', async (t) => {
      const d = await startTestDeployment(
        t,
        ['north-1', 'south-1'],
        {},
        { maxImagesPerProject: 2 },
        {},
        dialect,
      );
      const url = d.url('north-1');
      const first = await uploadImage(d, d.demo.token, 'north-1', pseudoRandom(64 * KiB, 2), { name: 'one' });
      const second = await api(url, d.demo.token, 'POST', '/v2/images', { name: 'two' });
      assert.equal(second.status, 201);
      const third = await api(url, d.demo.token, 'POST', '/v2/images', { name: 'three' });
      assert.equal(third.status, 413);
      assert.equal(third.body.error.code, 'LIMIT_EXCEEDED');
      assert.match(third.body.error.message, /holds 2 images in north-1, its quota/);
      const copy = await api(url, d.demo.token, 'POST', `/v1/cloudimages/${first}/copy`, { name: 'copy' });
      assert.equal(copy.status, 413, JSON.stringify(copy.body));
      // Another project is not held back by this one's images.
      assert.equal((await api(url, d.other.token, 'POST', '/v2/images', { name: 'theirs' })).status, 201);
      // The destination project is full: the replication is refused before any job runs.
      for (const name of ['s1', 's2']) {
        assert.equal((await api(d.url('south-1'), d.demo.token, 'POST', '/v2/images', { name })).status, 201);
      }
      const replication = await requestReplication(url, d.demo.token, first, {
        region: 'south-1',
        agency_name: 'ferry_copy',
      });
      assert.equal(replication.status, 413, JSON.stringify(replication.body));
      assert.match(JSON.stringify(replication.body), /its quota/);
      // Deleting one makes room again.
      assert.equal((await api(url, d.demo.token, 'DELETE', `/v2/images/${second.body.id}`)).status, 204);
      assert.equal((await api(url, d.demo.token, 'POST', '/v2/images', { name: 'three' })).status, 201);
      const limits = await api(url, d.demo.token, 'GET', '/v1/limits');
      assert.equal(limits.body.max_images_per_project, 2);
      assert.equal(limits.body.max_properties_per_image, 128);
    });
  });
}
