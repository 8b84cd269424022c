/**
 * Image storage per account and day in this region: the highest total size of the account's images seen that
 * day (sampled hourly by region/storage-usage.ts, and read live for today), for the usage report.
 * @module
 */
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('storage_usage')
    .addColumn('account_id', 'varchar(32)', (c) => c.notNull())
    .addColumn('day', 'varchar(10)', (c) => c.notNull())
    .addColumn('image_bytes', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('storage_usage_pk', ['account_id', 'day'])
    .execute();
}
