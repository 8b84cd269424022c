/**
 * Grants: what a source region lets one destination read for one job (the image's manifest and the chunks
 * it lists), and the metering of bytes sent between regions.
 * @module
 */
import { sql } from 'kysely';
import type { Db } from './db.js';
import type { GrantsTable, TransferUsageTable } from './schema.js';

export type GrantRow = GrantsTable;

export async function insertGrant(db: Db, row: GrantRow): Promise<void> {
  await db.insertInto('grants').values(row).execute();
}

export async function findGrant(db: Db, jobId: string): Promise<GrantRow | undefined> {
  return db.selectFrom('grants').selectAll().where('job_id', '=', jobId).executeTakeFirst();
}

export async function revokeGrant(db: Db, jobId: string, at: string): Promise<void> {
  await db
    .updateTable('grants')
    .set({ revoked_at: at })
    .where('job_id', '=', jobId)
    .where('revoked_at', 'is', null)
    .execute();
}

export async function deleteGrant(db: Db, jobId: string): Promise<void> {
  await db.deleteFrom('grants').where('job_id', '=', jobId).execute();
}

/** Adds bytes to the account's traffic from `source` to `dest` on `day` (UTC, YYYY-MM-DD). */
export async function addTransferUsage(
  db: Db,
  usage: { accountId: string; sourceRegion: string; destRegion: string; day: string; bytes: number },
): Promise<void> {
  await db
    .insertInto('transfer_usage')
    .values({
      account_id: usage.accountId,
      source_region: usage.sourceRegion,
      dest_region: usage.destRegion,
      day: usage.day,
      bytes: usage.bytes,
    })
    .onConflict((oc) =>
      oc
        .columns(['account_id', 'source_region', 'dest_region', 'day'])
        .doUpdateSet({ bytes: sql`transfer_usage.bytes + ${usage.bytes}` }),
    )
    .execute();
}

export async function listTransferUsage(db: Db, accountId: string): Promise<TransferUsageTable[]> {
  return db
    .selectFrom('transfer_usage')
    .selectAll()
    .where('account_id', '=', accountId)
    .orderBy('day')
    .orderBy('source_region')
    .orderBy('dest_region')
    .execute();
}
