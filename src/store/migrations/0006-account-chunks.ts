/**
 * Which chunks of a region each account holds (has uploaded, replicated or copied in): a replication skips
 * only chunks its own account holds, so that what it sends does not tell one account whether another
 * stored the same data (see store/account-chunks.ts).
 * @module
 */
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('account_chunks')
    .addColumn('account_id', 'varchar(32)', (c) => c.notNull())
    .addColumn('digest', 'varchar(64)', (c) => c.notNull())
    .addPrimaryKeyConstraint('account_chunks_pk', ['account_id', 'digest'])
    .execute();
  await db.schema.createIndex('account_chunks_digest').on('account_chunks').column('digest').execute();
}
