// The chunks an account holds (store/account-chunks.ts), on both dialects.
import { setTimeout as sleep } from 'node:timers/promises';
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  chunksHeldByAccount,
  createChunkRecorder,
  forgetChunks,
  recordAccountChunks,
} from '../../../src/store/account-chunks.js';
import { dialects, openTestDb } from '../../helpers/db.js';

for (const { name, skip } of dialects()) {
  describe(`account-chunks store on ${name}`, { skip }, () => {
    test('the chunks an account holds: recorded once however often, per account, forgotten with the chunk', async (t) => {
      const db = await openTestDb(t, name);
      const digests = Array.from({ length: 1203 }, (_, i) => i.toString(16).padStart(64, '0'));
      await recordAccountChunks(db, 'a'.repeat(32), digests.slice(0, 1000));
      await recordAccountChunks(db, 'a'.repeat(32), digests.slice(500)); // overlaps: no duplicate-key error
      // Each write is preceded by the chunk store's barrier, and fails if the barrier fails.
      let barriers = 0;
      const recorder = createChunkRecorder(db, 'b'.repeat(32), async () => {
        barriers++;
      });
      for (const digest of digests.slice(0, 3)) recorder.add(digest);
      await recorder.flush();
      assert.equal(barriers, 1);
      // A barrier slower than the recording interval: one at a time, and one waiting takes what came meanwhile.
      let running = 0;
      let most = 0;
      let slowBarriers = 0;
      const slow = createChunkRecorder(db, 'c'.repeat(32), async () => {
        slowBarriers++;
        most = Math.max(most, ++running);
        await sleep(400);
        running--;
      });
      for (const [i, digest] of digests.slice(0, 12).entries()) {
        slow.add(digest);
        if (i % 3 === 2) await sleep(300); // past the interval: a write is due
      }
      await slow.flush();
      assert.equal(most, 1);
      assert.ok(slowBarriers <= 3, `${slowBarriers} barriers for 4 intervals of a 400 ms barrier`);
      assert.equal((await chunksHeldByAccount(db, 'c'.repeat(32), digests)).size, 12);
      const failing = createChunkRecorder(db, 'b'.repeat(32), () => Promise.reject(new Error('disk gone')));
      failing.add(digests[1000]!);
      await assert.rejects(failing.flush(), /disk gone/);
      assert.equal((await chunksHeldByAccount(db, 'a'.repeat(32), digests)).size, 1203);
      assert.deepEqual(
        [...(await chunksHeldByAccount(db, 'b'.repeat(32), digests))].sort(),
        digests.slice(0, 3),
        'nothing recorded after a failed barrier',
      );
      await forgetChunks(db, digests.slice(1, 700));
      assert.equal((await chunksHeldByAccount(db, 'a'.repeat(32), digests)).size, 1203 - 699);
      assert.deepEqual([...(await chunksHeldByAccount(db, 'b'.repeat(32), digests))], [digests[0]]);
    });
  });
}
