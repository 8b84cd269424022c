/**
 * The chunks each account holds in this region: those of images it uploaded, of replicas it received and
 * of copies it made. The chunk store itself is shared by every account (one copy of each chunk per region),
 * but a replication may skip sending only the chunks its own account holds. Were it to skip any chunk the
 * region has, its job's `bytes_skipped_present` and its metered bytes would tell an account whether another
 * account stored the same data (a file, a guessable 1 MiB region of one) in the destination region.
 *
 * A row outlives the account's images (a stale row only says the account once held that data); garbage
 * collection removes the rows of the chunks it deletes. Images stored before this table existed (migration
 * 0006) have no rows: the first replication of their chunks sends them again.
 * @module
 */
import type { Db } from './db.js';

/** Rows written or looked up per statement (well under SQLite's and PostgreSQL's bound-parameter limits). */
const BATCH = 500;

function* batches<T>(items: readonly T[]): Generator<T[]> {
  for (let at = 0; at < items.length; at += BATCH) yield items.slice(at, at + BATCH);
}

/** Records that `accountId` holds these chunks (already recorded ones are left as they are). */
export async function recordAccountChunks(
  db: Db,
  accountId: string,
  digests: Iterable<string>,
): Promise<void> {
  for (const batch of batches([...new Set(digests)])) {
    await db
      .insertInto('account_chunks')
      .values(batch.map((digest) => ({ account_id: accountId, digest })))
      .onConflict((conflict) => conflict.columns(['account_id', 'digest']).doNothing())
      .execute();
  }
}

/** Those of `digests` that `accountId` holds. */
export async function chunksHeldByAccount(
  db: Db,
  accountId: string,
  digests: readonly string[],
): Promise<Set<string>> {
  const held = new Set<string>();
  for (const batch of batches(digests)) {
    const rows = await db
      .selectFrom('account_chunks')
      .select('digest')
      .where('account_id', '=', accountId)
      .where('digest', 'in', batch)
      .execute();
    for (const row of rows) held.add(row.digest);
  }
  return held;
}

/** Forgets chunks the store no longer has (garbage collection deleted them). */
export async function forgetChunks(db: Db, digests: readonly string[]): Promise<void> {
  for (const batch of batches(digests)) {
    await db.deleteFrom('account_chunks').where('digest', 'in', batch).execute();
  }
}

/** How long a stored chunk may wait to be recorded: what a run killed -9 fetches again when resumed. */
export const RECORD_INTERVAL_MS = 250;

/**
 * Records, as a replication stores them one by one, the chunks an account now holds: every
 * RECORD_INTERVAL_MS, in one statement, so a run killed mid-transfer has recorded all but the last moment's
 * chunks and its resumption does not fetch the rest again. The cost is per statement, not per row (on
 * SQLite, recording the 2048 chunks of 2 GiB took 188 ms of the main thread in 55 statements, 52 ms in 11, 43 ms in 5).
 */
export function createChunkRecorder(
  db: Db,
  accountId: string,
  /** The chunk store's barrier: a recorded chunk must survive a crash, since a resumed run skips it. */
  barrier: () => Promise<void>,
): { add(digest: string): void; flush(): Promise<void> } {
  let pending: string[] = [];
  let timer: NodeJS.Timeout | undefined;
  let writing: Promise<void> | undefined;
  let queued: Promise<void> | undefined;
  let failure: { error: unknown } | undefined;
  const write = (): Promise<void> => {
    timer = undefined;
    if (writing !== undefined) {
      // One barrier at a time, and at most one waiting, which takes everything added until it starts: a
      // barrier can take longer than the interval on a slow disk, and a chain of one per interval grew
      // without bound, all of it waited for by the transfer's last flush.
      queued ??= writing.then(() => {
        queued = undefined;
        return write();
      });
      return queued;
    }
    if (pending.length === 0) return Promise.resolve(); // all taken by the write before
    const batch = pending;
    pending = [];
    const record = async (): Promise<void> => {
      await barrier();
      await recordAccountChunks(db, accountId, batch);
    };
    // Settles after this assignment, even if the barrier throws at once.
    writing = record()
      .catch((error: unknown) => {
        failure ??= { error };
      })
      .finally(() => {
        writing = undefined;
      });
    return writing;
  };
  return {
    add(digest) {
      pending.push(digest);
      timer ??= setTimeout(write, RECORD_INTERVAL_MS).unref(); // never what keeps a process alive
    },
    async flush() {
      clearTimeout(timer);
      await write();
      if (failure) throw failure.error;
    },
  };
}
