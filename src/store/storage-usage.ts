/**
 * Image storage per account and day, one function per query (region/storage-usage.ts samples it).
 * @module
 */
import { sql } from 'kysely';
import type { Db } from './db.js';
import type { StorageUsageTable } from './schema.js';

/** Images that hold data an account is billed for: those with their data complete. */
const STORED = ['active', 'deactivated'];

/** The total size of each account's stored images in this region now (accounts with none are left out). */
export async function currentImageBytesByAccount(db: Db): Promise<Map<string, number>> {
  const rows = await db
    .selectFrom('images')
    .innerJoin('projects', 'projects.id', 'images.owner')
    .select(['projects.account_id as account_id', (eb) => eb.fn.sum<number>('images.size').as('bytes')])
    .where('images.status', 'in', STORED)
    .groupBy('projects.account_id')
    .execute();
  return new Map(rows.map((r) => [r.account_id, Number(r.bytes ?? 0)]));
}

/** The total size of one account's stored images in this region now. */
export async function currentImageBytes(db: Db, accountId: string): Promise<number> {
  const row = await db
    .selectFrom('images')
    .innerJoin('projects', 'projects.id', 'images.owner')
    .select((eb) => eb.fn.sum<number>('images.size').as('bytes'))
    .where('projects.account_id', '=', accountId)
    .where('images.status', 'in', STORED)
    .executeTakeFirst();
  return Number(row?.bytes ?? 0);
}

/** Records a sample: the day keeps the highest total seen. */
export async function recordImageBytes(db: Db, accountId: string, day: string, bytes: number): Promise<void> {
  await db
    .insertInto('storage_usage')
    .values({ account_id: accountId, day, image_bytes: bytes })
    .onConflict((oc) =>
      oc.columns(['account_id', 'day']).doUpdateSet({
        image_bytes: sql`case when storage_usage.image_bytes > ${bytes} then storage_usage.image_bytes else ${bytes} end`,
      }),
    )
    .execute();
}

export async function listStorageUsage(db: Db, accountId: string): Promise<StorageUsageTable[]> {
  return db
    .selectFrom('storage_usage')
    .selectAll()
    .where('account_id', '=', accountId)
    .orderBy('day')
    .execute();
}
