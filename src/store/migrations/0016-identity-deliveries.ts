/**
 * Token administration across regions. A user may be disabled (`users.enabled`, 0/1, default 1), with the
 * time of the last change (`users.enabled_changed_at`, the changing region's clock) so that changes arriving
 * from several regions, in any order, settle on the latest. `identity_deliveries` is the durable queue of
 * identity changes this region still owes each other region (a revoked token, a user's revoked tokens, a user
 * disabled or enabled): written in the same transaction as the change here, retried with backoff, removed once
 * the other region acknowledges (replication/identity-deliveries.ts).
 * @module
 */
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable('users')
    .addColumn('enabled', 'integer', (c) => c.notNull().defaultTo(1))
    .execute();
  await db.schema.alterTable('users').addColumn('enabled_changed_at', 'varchar(32)').execute();
  await db.schema
    .createTable('identity_deliveries')
    .addColumn('id', 'varchar(32)', (c) => c.primaryKey())
    /** The region that must learn the change. */
    .addColumn('region', 'varchar(64)', (c) => c.notNull())
    /** token_revoked, user_tokens_revoked, user_disabled or user_enabled. */
    .addColumn('kind', 'varchar(32)', (c) => c.notNull())
    .addColumn('user_id', 'varchar(64)', (c) => c.notNull())
    /** token_revoked: the revoked token's secret hash (the same in every region). */
    .addColumn('secret_hash', 'varchar(64)')
    /** When the change was made here: tokens issued up to then are revoked; the later user state wins. */
    .addColumn('changed_at', 'varchar(32)', (c) => c.notNull())
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    /** Not sent again before this time (backoff after a failed delivery). */
    .addColumn('next_at', 'varchar(32)', (c) => c.notNull())
    .addColumn('last_error', 'text')
    .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('identity_deliveries_next')
    .on('identity_deliveries')
    .column('next_at')
    .execute();
  await db.schema
    .createIndex('identity_deliveries_user')
    .on('identity_deliveries')
    .column('user_id')
    .execute();
}
