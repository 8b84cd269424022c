// Job leases on both dialects (store/jobs.ts): a worker claims a due destination job with a compare-and-set
// on its lease, nobody else can while the lease lives, another takes it over once it lapses, and the first
// then finds every write refused; finished and source-side jobs are never claimed.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Db } from '../../../src/store/db.js';
import {
  claimJob,
  findJob,
  insertJob,
  isJobWaiting,
  newJobRow,
  releaseJob,
  updateJob,
  type JobRow,
} from '../../../src/store/jobs.js';
import { dialects, openTestDb } from '../../helpers/db.js';

const T0 = Date.parse('2026-01-01T00:00:00Z');
const at = (seconds: number) => new Date(T0 + seconds * 1000).toISOString();

async function addJob(db: Db, id: string, overrides: Partial<JobRow> = {}): Promise<void> {
  const row = newJobRow(
    {
      id: id.padEnd(32, '0'),
      job_type: 'imsCrossRegionCopyImageJob',
      role: 'destination',
      account_id: 'a'.repeat(32),
      user_id: 'u'.repeat(32),
      source_region: 'north-1',
      source_image_id: 'img',
      source_image_name: 'img',
      dest_region: 'south-1',
      image_name: 'copy',
      manifest_digest: 'f'.repeat(64),
      bytes_total: 1,
    },
    at(0),
    5,
  );
  await insertJob(db, { ...row, ...overrides });
}

for (const { name, skip } of dialects()) {
  describe(`job leases on ${name}`, { skip }, () => {
    test('one worker holds a job while its lease lives; another takes it over once it lapses', async (t) => {
      const db = await openTestDb(t, name);
      await addJob(db, '1');
      assert.equal(await isJobWaiting(db, at(1)), true);

      const first = await claimJob(db, 'w1', at(1), at(31));
      assert.equal(first?.locked_by, 'w1');
      assert.equal(first?.lease_until, at(31));
      assert.equal(await isJobWaiting(db, at(2)), false);
      assert.equal(await claimJob(db, 'w2', at(2), at(32)), undefined, 'the lease lives');

      assert.equal(
        await updateJob(db, first!.id, { worker: 'w1' }, { lease_until: at(40) }),
        true,
        'renewed',
      );
      assert.equal(await claimJob(db, 'w2', at(35), at(65)), undefined, 'the renewed lease lives');

      const taken = await claimJob(db, 'w2', at(41), at(71));
      assert.equal(taken?.locked_by, 'w2', 'a lapsed lease is taken over');
      assert.equal(
        await updateJob(db, first!.id, { worker: 'w1' }, { bytes_transferred: 1 }),
        false,
        'the first worker is told to stop',
      );
      await releaseJob(db, first!.id, 'w1', { run_at: at(99) });
      assert.equal((await findJob(db, first!.id))?.locked_by, 'w2', 'nor can it give the job back');

      await releaseJob(db, first!.id, 'w2', { run_at: at(50) });
      const released = await findJob(db, first!.id);
      assert.equal(released?.locked_by, null);
      assert.equal(released?.lease_until, null);
      assert.equal(await claimJob(db, 'w3', at(49), at(79)), undefined, 'not due before run_at');
      assert.equal((await claimJob(db, 'w3', at(50), at(80)))?.locked_by, 'w3');
    });

    test('two workers claiming at once get different jobs, and never the same one', async (t) => {
      const db = await openTestDb(t, name);
      await addJob(db, '1');
      await addJob(db, '2');
      const [a, b] = await Promise.all([
        claimJob(db, 'w1', at(1), at(31)),
        claimJob(db, 'w2', at(1), at(31)),
      ]);
      assert.ok(a !== undefined && b !== undefined);
      assert.notEqual(a.id, b.id);
      assert.equal(await claimJob(db, 'w3', at(1), at(31)), undefined);
    });

    test('eight workers claiming at once over five jobs take each job once; a takeover is reported', async (t) => {
      const db = await openTestDb(t, name);
      for (const id of ['1', '2', '3', '4', '5']) await addJob(db, id);
      const claims = await Promise.all(
        Array.from({ length: 8 }, (_, i) => claimJob(db, `w${i}`, at(1), at(31))),
      );
      const ids = claims.filter((job) => job !== undefined).map((job) => job.id);
      assert.equal(ids.length, 5, 'every job is claimed');
      assert.equal(new Set(ids).size, 5, 'none twice');
      const takeovers: string[] = [];
      const taken = await claimJob(db, 'late', at(32), at(62), (from) => takeovers.push(from));
      assert.ok(taken !== undefined);
      assert.deepEqual(takeovers, [claims.find((job) => job?.id === taken.id)!.locked_by]);
    });

    test('finished jobs, jobs not yet due and source-side jobs are never claimed', async (t) => {
      const db = await openTestDb(t, name);
      await addJob(db, '1', { status: 'SUCCESS' });
      await addJob(db, '2', { status: 'CANCELLED' });
      await addJob(db, '3', { role: 'source' });
      await addJob(db, '4', { run_at: at(60) });
      assert.equal(await isJobWaiting(db, at(1)), false);
      assert.equal(await claimJob(db, 'w1', at(1), at(31)), undefined);
      const due = await claimJob(db, 'w1', at(60), at(90));
      assert.equal(due?.id, '4'.padEnd(32, '0'));
      await updateJob(db, due!.id, { worker: 'w1' }, { status: 'CANCELLED' });
      assert.equal(
        await updateJob(db, due!.id, { worker: 'w1' }, { bytes_transferred: 1 }),
        false,
        'a cancelled job refuses its worker',
      );
    });
  });
}
