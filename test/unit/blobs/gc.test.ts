// Garbage collection keeps what image rows and unfinished jobs reference, and recent objects; it deletes
// the rest.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createChunkStore } from '../../../src/blobs/chunk-store.js';
import { createMemoryBlobDriver } from '../../../src/blobs/drivers/memory.js';
import { collectGarbage } from '../../../src/blobs/gc.js';
import { gcRootsOf } from '../../../src/images/storage-maintenance.js';
import { imageRow } from '../../helpers/rows.js';
import type { BlobDriver } from '../../../src/blobs/driver.js';
import { chunkKey, CHUNKS_PREFIX } from '../../../src/blobs/layout.js';
import { CHUNK_SIZE, type Manifest } from '../../../src/domain/manifest.js';
import { insertAccount, insertProject } from '../../../src/store/identity.js';
import { insertImage } from '../../../src/store/images.js';
import { insertJob } from '../../../src/store/jobs.js';
import { openTestDb } from '../../helpers/db.js';
import { pseudoRandom } from '../../helpers/replication.js';

const clock = { now: () => new Date() };

test('collects only old objects that no image or unfinished job references', async (t) => {
  const db = await openTestDb(t, 'sqlite');
  const driver = createMemoryBlobDriver();
  const chunks = createChunkStore({ driver });
  const add = async (seed: number) => (await chunks.addChunk(pseudoRandom(CHUNK_SIZE, seed))).digest;
  const [a, b, c, d] = [await add(1), await add(2), await add(3), await add(4)];
  const manifest = (digests: string[]): Manifest => ({
    chunkSize: CHUNK_SIZE,
    size: digests.length * CHUNK_SIZE,
    chunks: digests as unknown as Manifest['chunks'],
  });
  const imageManifest = await chunks.putManifest(manifest([a, b]));
  const jobManifest = await chunks.putManifest(manifest([c]));
  await chunks.putManifest(manifest([d])); // referenced by nothing

  await insertAccount(db, clock, { id: 'a'.repeat(32), name: 'acme' });
  await insertProject(db, clock, { id: 'p'.repeat(32), account_id: 'a'.repeat(32), region: 'r', name: 'r' });
  const now = new Date().toISOString();
  await insertImage(
    db,
    imageRow(1, { name: 'x', disk_format: 'raw', size: 2 * CHUNK_SIZE, manifest_digest: imageManifest }),
    [],
    {},
  );
  await insertJob(db, {
    id: 'j'.repeat(32),
    role: 'destination',
    status: 'RUNNING',
    manifest_digest: jobManifest,
    job_type: 'imsCrossRegionCopyImageJob',
    account_id: 'a'.repeat(32),
    user_id: 'u',
    source_region: 's',
    source_image_id: 'i',
    source_image_name: null,
    dest_region: 'r',
    dest_project_id: null,
    project_id: null,
    dest_image_id: null,
    image_name: 'n',
    description: '',
    agency_name: null,
    vault_id: null,
    disks: null,
    request_id: null,
    share_with: null,
    cmk_id: null,
    bytes_total: 0,
    bytes_transferred: 0,
    bytes_skipped_present: 0,
    bytes_skipped_zero: 0,
    bytes_per_second: 0,
    bandwidth_limit: null,
    current_task: '',
    error_code: null,
    fail_reason: null,
    grant_secret: null,
    attempts: 0,
    max_attempts: 5,
    run_at: now,
    locked_by: null,
    lease_until: null,
    cancel_requested: 0,
    begin_time: now,
    end_time: null,
    updated_at: now,
  });

  const young = await collectGarbage(gcRootsOf(db), chunks, driver, { graceMs: 3_600_000 });
  assert.equal(young.chunksDeleted, 0, 'everything is younger than the grace period');

  const later = new Date(Date.now() + 2 * 3_600_000);
  const report = await collectGarbage(gcRootsOf(db), chunks, driver, { graceMs: 3_600_000, now: later });
  assert.equal(report.chunksDeleted, 1);
  assert.equal(report.manifestsDeleted, 1);
  assert.equal(report.bytesDeleted, CHUNK_SIZE);
  assert.ok(await chunks.hasChunk(a), 'referenced by an image');
  assert.ok(await chunks.hasChunk(b));
  assert.ok(await chunks.hasChunk(c), 'referenced by an unfinished job');
  assert.equal(await driver.has(chunkKey(d)), false, 'referenced by nothing');
});

test('spares the chunks a hold keeps, whatever their age, until it is released', async (t) => {
  const db = await openTestDb(t, 'sqlite');
  const driver = createMemoryBlobDriver();
  const chunks = createChunkStore({ driver });
  const hold = chunks.hold();
  const other = chunks.hold();
  const { digest: kept } = await chunks.addChunk(pseudoRandom(CHUNK_SIZE, 7), { hold });
  await chunks.addChunk(pseudoRandom(CHUNK_SIZE, 7), { hold: other }); // found already stored: held too
  const { digest: loose } = await chunks.addChunk(pseudoRandom(CHUNK_SIZE, 8));

  const first = await collectGarbage(gcRootsOf(db), chunks, driver, {
    graceMs: 0,
    now: new Date(Date.now() + 1000),
  });
  assert.equal(first.chunksDeleted, 1, 'only the chunk no hold keeps');
  assert.ok(await chunks.hasChunk(kept));
  assert.equal(await chunks.hasChunk(loose), false);

  hold.release();
  hold.release(); // idempotent: must not let go of the other hold's chunk
  assert.ok(chunks.isHeld(kept), 'still kept by the other hold');
  other.release();
  assert.equal(chunks.isHeld(kept), false);
  const second = await collectGarbage(gcRootsOf(db), chunks, driver, {
    graceMs: 0,
    now: new Date(Date.now() + 1000),
  });
  assert.equal(second.chunksDeleted, 1);
  assert.equal(await chunks.hasChunk(kept), false);
});

test('a hold released while a collection runs keeps its chunks until that collection ends', async (t) => {
  const db = await openTestDb(t, 'sqlite');
  const memory = createMemoryBlobDriver();
  // The collection stops at its sweep until the test lets it go on: it has listed its roots by then.
  let reached!: () => void;
  const atSweep = new Promise<void>((resolve) => (reached = resolve));
  let goOn!: () => void;
  const gate = new Promise<void>((resolve) => (goOn = resolve));
  const driver: BlobDriver = {
    ...memory,
    async *list(prefix) {
      if (prefix === CHUNKS_PREFIX) {
        reached();
        await gate;
      }
      yield* memory.list(prefix);
    },
  };
  const chunks = createChunkStore({ driver });
  const upload = chunks.hold();
  const { digest } = await chunks.addChunk(pseudoRandom(CHUNK_SIZE, 9), { hold: upload });

  const collecting = collectGarbage(gcRootsOf(db), chunks, driver, {
    graceMs: 0,
    now: new Date(Date.now() + 1000),
  });
  await atSweep;
  // The upload ends now: its image row would reference the chunk, but this collection's roots predate it.
  upload.release();
  assert.ok(chunks.isHeld(digest), 'kept until the running collection ends');
  goOn();
  const report = await collecting;
  assert.equal(report.chunksDeleted, 0);
  assert.ok(await chunks.hasChunk(digest));
  assert.equal(chunks.isHeld(digest), false, 'let go once it ended');

  // A collection that starts after the release is not waited for.
  const later = chunks.hold();
  later.add(digest);
  const collection = chunks.beginCollection();
  collection.end();
  later.release();
  assert.equal(chunks.isHeld(digest), false);
});

test("an upload's manifest, stored before a collection and referenced after it listed its roots, is spared", async (t) => {
  const db = await openTestDb(t, 'sqlite');
  const driver = createMemoryBlobDriver();
  const chunks = createChunkStore({ driver });
  const upload = chunks.hold();
  const { digest } = await chunks.addChunk(pseudoRandom(CHUNK_SIZE, 11), { hold: upload });
  const manifest = await chunks.putManifest(
    { chunkSize: CHUNK_SIZE, size: CHUNK_SIZE, chunks: [digest] as unknown as Manifest['chunks'] },
    { hold: upload },
  );
  // No image row references it yet (the upload has not committed): only its hold keeps it.
  const report = await collectGarbage(gcRootsOf(db), chunks, driver, {
    graceMs: 0,
    now: new Date(Date.now() + 1000),
  });
  assert.equal(report.manifestsDeleted, 0);
  assert.deepEqual(await chunks.getManifest(manifest), {
    chunkSize: CHUNK_SIZE,
    size: CHUNK_SIZE,
    chunks: [digest],
  });
  upload.release();
  const after = await collectGarbage(gcRootsOf(db), chunks, driver, {
    graceMs: 0,
    now: new Date(Date.now() + 1000),
  });
  assert.equal(after.manifestsDeleted, 1, 'collected once nothing holds or references it');
});
