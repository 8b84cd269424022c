// Garbage collection in one process of a region spares the chunks of an upload running in another (a
// scale-out region's API processes): per-process chunk holds cannot be seen there, so the upload's heartbeat
// is, and nothing newer than the start of the oldest live upload is taken. On SQLite and PostgreSQL.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { createChunkStore } from '../../../src/blobs/chunk-store.js';
import { createMemoryBlobDriver } from '../../../src/blobs/drivers/memory.js';
import { DEFAULT_LIMITS } from '../../../src/config/limits.js';
import { collectRegionGarbage } from '../../../src/images/storage-maintenance.js';
import { createRegionMetrics } from '../../../src/lib/metrics.js';
import { insertImage } from '../../../src/store/images.js';
import { endUploadHeartbeat, markUploadAlive } from '../../../src/store/upload-heartbeats.js';
import { dialects, openTestDb } from '../../helpers/db.js';
import { imageRow, seed } from '../../helpers/rows.js';
import type { Clock } from '../../../src/store/clock.js';

for (const { name, skip } of dialects()) {
  describe(`the upload hold shared through the database, on ${name}`, { skip }, () => {
    test("another process's live upload keeps its chunks from a collection with no grace", async (t) => {
      const db = await openTestDb(t, name);
      const clock: Clock = { now: () => new Date() };
      await seed(db, clock);
      const blobs = createMemoryBlobDriver();
      const chunks = createChunkStore({ driver: blobs });
      const started = new Date(Date.now() - 5_000).toISOString();
      // The upload of another process: its image saving since `started`, its heartbeat fresh, chunks written
      // through that process's own store (no hold here), no manifest yet.
      const image = imageRow(1, { status: 'saving', manifest_digest: null, size: null });
      await insertImage(db, { ...image, created_at: started, updated_at: started }, [], {});
      await markUploadAlive(db, image.id, new Date().toISOString());
      const written = [];
      for (let i = 0; i < 3; i++) written.push((await chunks.addChunk(randomBytes(4096))).digest);
      await new Promise((resolve) => setTimeout(resolve, 20));

      const metrics = createRegionMetrics('north-1', async () => [], false);
      const ctx = { db, chunks, blobs, clock, limits: DEFAULT_LIMITS, metrics };
      const during = await collectRegionGarbage(ctx, 0);
      assert.equal(during.chunksDeleted, 0, 'the live upload keeps its chunks');
      assert.deepEqual(await chunks.missingChunks(written), []);

      // The upload is over (its process died, or it ended): nothing holds the chunks any more.
      await endUploadHeartbeat(db, image.id);
      const after = await collectRegionGarbage(ctx, 0);
      assert.equal(after.chunksDeleted, 3);
      assert.deepEqual((await chunks.missingChunks(written)).sort(), [...written].sort());
    });
  });
}
