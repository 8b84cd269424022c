/**
 * Which token made each token (by its secret's hash, the same in every region): revoking a token revokes
 * the tokens made with it, as a leaked token's holder could otherwise keep access through one it made.
 * @module
 */
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('tokens').addColumn('parent_hash', 'varchar(64)').execute();
  await db.schema.createIndex('tokens_parent_hash').on('tokens').column('parent_hash').execute();
}
