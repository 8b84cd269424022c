/**
 * The durable queue of identity changes owed to other regions (migrations/0016-identity-deliveries.ts), one
 * function per query. Rows are written with the change itself (pass the transaction as `db`), so a change
 * made here is never without its deliveries; a row is deleted once its region acknowledged it.
 * @module
 */
import type { Db } from './db.js';
import type { IdentityDeliveriesTable } from './schema.js';

export type IdentityDelivery = IdentityDeliveriesTable;

export async function insertIdentityDeliveries(db: Db, rows: IdentityDelivery[]): Promise<void> {
  if (rows.length === 0) return;
  await db.insertInto('identity_deliveries').values(rows).execute();
}

/** Deliveries due by `now` (ISO 8601), oldest change first, at most `limit`. */
export async function dueIdentityDeliveries(db: Db, now: string, limit: number): Promise<IdentityDelivery[]> {
  return db
    .selectFrom('identity_deliveries')
    .selectAll()
    .where('next_at', '<=', now)
    .orderBy('created_at')
    .orderBy('id')
    .limit(limit)
    .execute();
}

/** The user's deliveries not acknowledged yet, oldest first (what an administrator sees as pending). */
export async function identityDeliveriesOf(db: Db, userId: string): Promise<IdentityDelivery[]> {
  return db
    .selectFrom('identity_deliveries')
    .selectAll()
    .where('user_id', '=', userId)
    .orderBy('created_at')
    .orderBy('id')
    .execute();
}

/** Removes an acknowledged delivery. Idempotent (another process of the region may have sent it too). */
export async function deleteIdentityDelivery(db: Db, id: string): Promise<void> {
  await db.deleteFrom('identity_deliveries').where('id', '=', id).execute();
}

/** Records a failed try and when to try again. */
export async function postponeIdentityDelivery(
  db: Db,
  id: string,
  fields: { attempts: number; next_at: string; last_error: string },
): Promise<void> {
  await db.updateTable('identity_deliveries').set(fields).where('id', '=', id).execute();
}
