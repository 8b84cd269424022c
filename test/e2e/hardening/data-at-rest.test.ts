// Issue 20, row 10: a region's data is for the Ferry process alone, whatever the umask: folders 0700 and
// files 0600 (the SQLite database and its WAL, the chunk packs), an earlier deployment's region folder
// narrowed at start; secrets at rest are hashed where they are only verified (the source keeps a grant's
// hash), and the grant secret a destination must present is forgotten once its job has ended.
import assert from 'node:assert/strict';
import { chmod, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { openRegionContext } from '../../../src/region/start-region.js';
import { findJob } from '../../../src/store/jobs.js';
import { dialects } from '../../helpers/db.js';
import { startTestDeployment, type TestDeployment } from '../../helpers/deployment.js';
import { pseudoRandom, startReplication, uploadImage, waitForJob } from '../../helpers/replication.js';

const MiB = 1024 * 1024;

/** Every folder and file under `dir` whose mode lets the group or others in, as `path mode`. */
async function openToOthers(dir: string): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    const file = join(entry.parentPath, entry.name);
    const { mode } = await stat(file);
    if ((mode & 0o077) !== 0) found.push(`${file} ${(mode & 0o777).toString(8)}`);
  }
  return found;
}

/** Runs `body` with the permissive umask most machines have, so modes come from Ferry and not the umask. */
function withUmask022(t: TestContext): void {
  const previous = process.umask(0o022);
  t.after(() => process.umask(previous));
}

function regionOf(d: TestDeployment, name: string) {
  return d.regions.find((r) => r.name === name)!;
}

test('a region folder holds only 0700 folders and 0600 files: database, WAL and chunk packs', async (t) => {
  withUmask022(t);
  const d = await startTestDeployment(t, ['north-1'], {}, {}, {}, 'sqlite'); // the embedded region's folder
  await uploadImage(d, d.demo.token, 'north-1', pseudoRandom(3 * MiB, 1));
  const regionDir = join(d.dataDir, 'north-1');
  assert.equal((await stat(regionDir)).mode & 0o777, 0o700);
  const names = await readdir(regionDir, { recursive: true });
  assert.ok(names.includes('ferry.sqlite') && names.includes('ferry.sqlite-wal'), names.join(' '));
  assert.ok(
    names.some((name) => name.includes('.packs/')),
    'the chunks are stored in packs',
  );
  assert.deepEqual(await openToOthers(regionDir), []);
});

test("an earlier deployment's region folder and database are narrowed when the region starts", async (t) => {
  withUmask022(t);
  const first = await startTestDeployment(t, ['north-1'], {}, {}, {}, 'sqlite');
  await first.close();
  const regionDir = join(first.dataDir, 'north-1');
  await chmod(regionDir, 0o755);
  await chmod(join(regionDir, 'ferry.sqlite'), 0o644);
  const ctx = await openRegionContext({ name: 'north-1', catalog: first.catalog, dataDir: first.dataDir });
  await ctx.blobs.close?.();
  await ctx.db.destroy();
  assert.equal((await stat(regionDir)).mode & 0o777, 0o700);
  assert.equal((await stat(join(regionDir, 'ferry.sqlite'))).mode & 0o777, 0o600);
});

for (const { name: dialect, skip } of dialects()) {
  describe(`grant secrets at rest on ${dialect}`, { skip }, () => {
    test('the source keeps only a hash of the grant; the destination forgets the secret when its job ends', async (t) => {
      const d = await startTestDeployment(t, ['north-1', 'south-1'], {}, {}, {}, dialect);
      const id = await uploadImage(d, d.demo.token, 'north-1', pseudoRandom(4 * MiB, 2));
      const jobId = await startReplication(d.url('north-1'), d.demo.token, id, {
        region: 'south-1',
        agency_name: 'ferry_copy',
        bandwidth_limit: 1024 * 1024,
      });
      const south = regionOf(d, 'south-1').ctx.db;
      let secret: string | null | undefined;
      for (let i = 0; i < 200 && !secret; i++) {
        secret = (await findJob(south, jobId))?.grant_secret;
        if (!secret) await new Promise((resolve) => setTimeout(resolve, 25));
      }
      assert.ok(secret, 'a running destination job holds the secret it presents');
      const north = regionOf(d, 'north-1').ctx.db;
      const grants = await north.selectFrom('grants').selectAll().where('job_id', '=', jobId).execute();
      assert.equal(grants.length, 1);
      assert.ok(
        !JSON.stringify(grants).includes(secret),
        'the source stores a hash of the grant, not the secret',
      );
      assert.equal((await findJob(north, jobId))?.grant_secret ?? null, null);

      const job = await waitForJob(d.url('north-1'), d.demo.token, jobId);
      assert.equal(job.status, 'SUCCESS');
      assert.equal((await findJob(south, jobId))?.grant_secret, null, 'a finished job forgets the secret');
    });
  });
}
