/**
 * Storage per account and day: image storage and vault backup storage, one function per query
 * (region/storage-usage.ts samples it).
 * @module
 */
import { sql } from 'kysely';
import type { Db } from './db.js';
import type { StorageUsageTable } from './schema.js';

/**
 * Images that hold data an account is billed for: those with their data complete. A whole-server image's
 * bytes are its backups', counted as vault storage.
 */
const STORED = ['active', 'deactivated'];
const WHOLE_SERVER = 'full-server';

/** What an account stores in this region: its images' bytes and its vaults' backups' bytes. */
export interface StoredBytes {
  image_bytes: number;
  vault_bytes: number;
}

/** The stored bytes of each account in this region now (accounts with none are left out). */
export async function currentStoredBytesByAccount(db: Db): Promise<Map<string, StoredBytes>> {
  const [images, vaults] = await Promise.all([
    db
      .selectFrom('images')
      .innerJoin('projects', 'projects.id', 'images.owner')
      .select(['projects.account_id as account_id', (eb) => eb.fn.sum<number>('images.size').as('bytes')])
      .where('images.status', 'in', STORED)
      .where('images.image_type', '!=', WHOLE_SERVER)
      .groupBy('projects.account_id')
      .execute(),
    db
      .selectFrom('backups')
      .innerJoin('vaults', 'vaults.id', 'backups.vault_id')
      .select(['vaults.account_id as account_id', (eb) => eb.fn.sum<number>('backups.size').as('bytes')])
      .where('backups.status', '=', 'available')
      .groupBy('vaults.account_id')
      .execute(),
  ]);
  const stored = new Map<string, StoredBytes>();
  const of = (account: string) => stored.get(account) ?? { image_bytes: 0, vault_bytes: 0 };
  for (const r of images)
    stored.set(r.account_id, { ...of(r.account_id), image_bytes: Number(r.bytes ?? 0) });
  for (const r of vaults)
    stored.set(r.account_id, { ...of(r.account_id), vault_bytes: Number(r.bytes ?? 0) });
  return stored;
}

/** The stored bytes of one account in this region now. */
export async function currentStoredBytes(db: Db, accountId: string): Promise<StoredBytes> {
  const [images, vaults] = await Promise.all([
    db
      .selectFrom('images')
      .innerJoin('projects', 'projects.id', 'images.owner')
      .select((eb) => eb.fn.sum<number>('images.size').as('bytes'))
      .where('projects.account_id', '=', accountId)
      .where('images.status', 'in', STORED)
      .where('images.image_type', '!=', WHOLE_SERVER)
      .executeTakeFirst(),
    db
      .selectFrom('backups')
      .innerJoin('vaults', 'vaults.id', 'backups.vault_id')
      .select((eb) => eb.fn.sum<number>('backups.size').as('bytes'))
      .where('vaults.account_id', '=', accountId)
      .where('backups.status', '=', 'available')
      .executeTakeFirst(),
  ]);
  return { image_bytes: Number(images?.bytes ?? 0), vault_bytes: Number(vaults?.bytes ?? 0) };
}

/** Records a sample: the day keeps the highest total seen of each. */
export async function recordStoredBytes(
  db: Db,
  accountId: string,
  day: string,
  bytes: StoredBytes,
): Promise<void> {
  const highest = (column: 'image_bytes' | 'vault_bytes') =>
    sql<number>`case when storage_usage.${sql.ref(column)} > ${bytes[column]} then storage_usage.${sql.ref(column)} else ${bytes[column]} end`;
  await db
    .insertInto('storage_usage')
    .values({ account_id: accountId, day, ...bytes })
    .onConflict((oc) =>
      oc.columns(['account_id', 'day']).doUpdateSet({
        image_bytes: highest('image_bytes'),
        vault_bytes: highest('vault_bytes'),
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
