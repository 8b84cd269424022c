// Image rows on both dialects: listing (filters, sort, keyset pages, visibility), the scrub's list,
// abandoned uploads, compare-and-set status changes, members and cascades.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  deleteImage,
  isImageIdTaken,
  findImage,
  insertImage,
  listImageManifests,
  transitionImage,
  updateImage,
  type ImageRow,
} from '../../../src/store/images.js';
import { listImages, type ListOptions } from '../../../src/store/image-list.js';
import { insertMember, listMembers, updateMemberStatus } from '../../../src/store/members.js';
import {
  endUploadHeartbeat,
  listAbandonedUploads,
  markUploadAlive,
} from '../../../src/store/upload-heartbeats.js';
import { dialects, openTestDb } from '../../helpers/db.js';
import { alpha, beta, fixedClock, imageRow, seed } from '../../helpers/rows.js';

function listing(overrides: Partial<ListOptions>): ListOptions {
  return { viewer: alpha, filters: {}, sort: [{ key: 'created_at', dir: 'desc' }], limit: 100, ...overrides };
}

for (const { name, skip } of dialects()) {
  describe(`images store on ${name}`, { skip }, () => {
    test('uploads without a recent heartbeat are listed as abandoned; replicas and live uploads are not', async (t) => {
      const db = await openTestDb(t, name);
      await seed(db, fixedClock());
      // imageRow(i) was last updated at 2026-01-01T00:00:0i.
      const ids = [1, 2, 3, 4, 5].map((i) => imageRow(i, {}).id);
      await insertImage(db, imageRow(1, { status: 'saving' }), [], {}); // no heartbeat, unchanged for long
      await insertImage(db, imageRow(2, { status: 'saving' }), [], {}); // heartbeat too old
      await insertImage(db, imageRow(3, { status: 'saving' }), [], {}); // heartbeat recent
      await insertImage(db, imageRow(4, { status: 'saving', replication_job_id: 'j'.repeat(32) }), [], {});
      await insertImage(
        db,
        imageRow(5, { status: 'saving', updated_at: '2026-01-01T01:00:00.000Z' }),
        [],
        {},
      );
      await markUploadAlive(db, ids[1]!, '2026-01-01T00:10:00.000Z');
      await markUploadAlive(db, ids[2]!, '2026-01-01T00:10:00.000Z');
      await markUploadAlive(db, ids[2]!, '2026-01-01T00:59:00.000Z'); // refreshed: one row, the new time
      const staleBefore = '2026-01-01T00:30:00.000Z';
      assert.deepEqual((await listAbandonedUploads(db, staleBefore)).sort(), [ids[0], ids[1]]);
      await endUploadHeartbeat(db, ids[2]!);
      assert.deepEqual((await listAbandonedUploads(db, staleBefore)).sort(), [ids[0], ids[1], ids[2]]);
      await deleteImage(db, ids[1]!, '2026-01-01T02:00:00.000Z'); // its heartbeat goes with it
      assert.deepEqual((await listAbandonedUploads(db, staleBefore)).sort(), [ids[0], ids[2]]);
    });

    test('lists filter, sort with nulls, page by marker and respect visibility', async (t) => {
      const db = await openTestDb(t, name);
      const clock = fixedClock();
      await seed(db, clock);
      for (let i = 1; i <= 7; i++) {
        await insertImage(
          db,
          imageRow(i, { name: i === 3 ? null : `img-${i % 3}`, size: i === 5 ? null : i * 100 }),
          i % 2 ? ['odd'] : [],
          { os_distro: i < 4 ? 'debian' : 'fedora' },
        );
      }
      await insertImage(db, imageRow(8, { owner: 'q'.repeat(32), visibility: 'shared' }), [], {});
      await insertImage(db, imageRow(9, { owner: 'q'.repeat(32), visibility: 'public' }), [], {});
      await insertImage(db, imageRow(10, { owner: 'q'.repeat(32) }), [], {});

      const ids = (rows: ImageRow[]) => rows.map((r) => Number(r.id.slice(-12)));
      assert.deepEqual(
        ids(await listImages(db, listing({}))),
        [9, 7, 6, 5, 4, 3, 2, 1],
        'own and public, newest first',
      );
      assert.deepEqual(ids(await listImages(db, listing({ viewer: beta }))), [10, 9, 8]);
      assert.deepEqual(
        ids(await listImages(db, listing({ filters: { tags: ['odd'] } }))),
        [9, 7, 5, 3, 1].filter((i) => i !== 9),
      );
      assert.deepEqual(
        ids(await listImages(db, listing({ filters: { properties: { os_distro: 'debian' } } }))),
        [3, 2, 1],
      );
      assert.deepEqual(
        ids(await listImages(db, listing({ filters: { sizeMin: 200, sizeMax: 400 } }))),
        [4, 3, 2],
      );
      const after3 = { op: '>', at: '2026-01-01T00:00:03' } as const;
      assert.deepEqual(
        ids(await listImages(db, listing({ filters: { createdAt: after3, names: ['img-1', 'img-2'] } }))),
        [7, 5, 4],
        'created after image 3, named img-1 or img-2',
      );
      assert.deepEqual(
        ids(await listImages(db, listing({ filters: { nameContains: 'IMG-1' } }))),
        [7, 4, 1],
        'names holding the text, whatever its case',
      );
      assert.deepEqual(ids(await listImages(db, listing({ filters: { nameContains: 'img_' } }))), []);

      // Sort by name ascending (null first), then size descending (null last), paging two at a time.
      const sort = [
        { key: 'name' as const, dir: 'asc' as const },
        { key: 'size' as const, dir: 'desc' as const },
      ];
      const all = ids(await listImages(db, listing({ sort, filters: { visibility: 'private' } })));
      assert.deepEqual(all, [3, 6, 7, 4, 1, 2, 5]);
      const paged: number[] = [];
      let marker: ImageRow | undefined;
      for (;;) {
        const page = await listImages(
          db,
          listing({ sort, filters: { visibility: 'private' }, limit: 2, ...(marker ? { marker } : {}) }),
        );
        paged.push(...ids(page));
        if (page.length < 2) break;
        marker = page.at(-1);
      }
      assert.deepEqual(paged, all, 'keyset pages give the same order without gaps or repeats');

      // Sharing: beta sees image 1 once it is a member and accepted.
      await updateImage(
        db,
        imageRow(1, {}).id,
        { columns: { visibility: 'shared' } },
        clock.now().toISOString(),
      );
      await insertMember(db, {
        image_id: imageRow(1, {}).id,
        member_id: 'q'.repeat(32),
        status: 'pending',
        vault_id: null,
        created_at: 'x',
        updated_at: 'x',
      });
      assert.ok(!ids(await listImages(db, listing({ viewer: beta }))).includes(1), 'pending: not listed');
      assert.ok(
        ids(await listImages(db, listing({ viewer: beta, filters: { memberStatus: 'pending' } }))).includes(
          1,
        ),
      );
      await updateMemberStatus(db, imageRow(1, {}).id, 'q'.repeat(32), 'accepted', 'y');
      assert.deepEqual(ids(await listImages(db, listing({ viewer: beta }))), [10, 9, 8, 1]);
    });

    test('images whose data is complete are listed with their manifests, for the scrub', async (t) => {
      const db = await openTestDb(t, name);
      const clock = fixedClock();
      await seed(db, clock);
      const m1 = '1'.repeat(64);
      const m2 = '2'.repeat(64);
      const first = await insertImage(db, imageRow(1, { manifest_digest: m1 }), [], {});
      const copy = await insertImage(db, imageRow(2, { manifest_digest: m1 }), [], {});
      const other = await insertImage(
        db,
        imageRow(3, { manifest_digest: m2, owner: 'q'.repeat(32) }),
        [],
        {},
      );
      await insertImage(db, imageRow(4, { status: 'queued' }), [], {});
      const gone = await insertImage(db, imageRow(5, { manifest_digest: m2 }), [], {});
      await deleteImage(db, gone.id, '2026-01-01T00:00:00.000Z');
      // A replica names its source's manifest from the start, but holds it (and its chunks) only at the end.
      await insertImage(
        db,
        imageRow(6, { status: 'saving', manifest_digest: m2, replication_job_id: 'j'.repeat(32) }),
        [],
        {},
      );
      const paused = await insertImage(
        db,
        imageRow(7, { status: 'deactivated', manifest_digest: m2 }),
        [],
        {},
      );
      const listed = await listImageManifests(db);
      assert.deepEqual(
        listed.sort((a, b) => a.id.localeCompare(b.id)),
        [
          { id: first.id, manifestDigest: m1 },
          { id: copy.id, manifestDigest: m1 },
          { id: other.id, manifestDigest: m2 },
          { id: paused.id, manifestDigest: m2 },
        ].sort((a, b) => a.id.localeCompare(b.id)),
      );
    });

    test('status changes are compare-and-set; delete cascades', async (t) => {
      const db = await openTestDb(t, name);
      const clock = fixedClock();
      await seed(db, clock);
      const image = await insertImage(db, imageRow(1, { status: 'queued' }), ['a', 'b'], { k: 'v' });
      const results = await Promise.all([
        transitionImage(db, image.id, 'queued', 'saving', 'now'),
        transitionImage(db, image.id, 'queued', 'saving', 'now'),
      ]);
      assert.deepEqual(results.sort(), [false, true], 'exactly one upload may start');
      await updateImage(
        db,
        image.id,
        { tags: ['c'], setProperties: { k: 'w', z: '1' }, removeProperties: [] },
        'later',
      );
      const updated = await findImage(db, image.id);
      assert.deepEqual(updated?.tags, ['c']);
      assert.deepEqual(updated?.properties, { k: 'w', z: '1' });
      await insertMember(db, {
        image_id: image.id,
        member_id: 'q'.repeat(32),
        status: 'pending',
        vault_id: null,
        created_at: 'x',
        updated_at: 'x',
      });
      assert.equal(await isImageIdTaken(db, image.id), true);
      await deleteImage(db, image.id, '2026-01-01T00:00:00.000Z');
      assert.equal(await findImage(db, image.id), undefined);
      assert.deepEqual(await listMembers(db, image.id), []);
      // The ID stays taken (never issued again); deleting it twice is harmless.
      assert.equal(await isImageIdTaken(db, image.id), true);
      await deleteImage(db, image.id, '2026-01-02T00:00:00.000Z');
      assert.equal(await isImageIdTaken(db, 'f'.repeat(8) + '-ffff-4fff-8fff-' + 'f'.repeat(12)), false);
    });
  });
}
