/**
 * Requests submitted with a client token (AWS CopyImage's `ClientToken`, Ferry's `client_token` or
 * `X-Client-Token`): the same token and request within 24 hours answers what the first one answered instead
 * of starting new jobs (replication/client-tokens.ts). A row without an answer is a request still running.
 * @module
 */
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('client_requests')
    .addColumn('account_id', 'varchar(32)', (c) => c.notNull())
    .addColumn('client_token', 'varchar(64)', (c) => c.notNull())
    /** SHA-256 of the call and its body without the token: another request under the same token is refused. */
    .addColumn('request_hash', 'varchar(64)', (c) => c.notNull())
    /** The answer's JSON; null while the first request runs. */
    .addColumn('answer', 'text')
    .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
    .addPrimaryKeyConstraint('client_requests_pk', ['account_id', 'client_token'])
    .execute();
  // Rows past the 24 hours are deleted by age.
  await db.schema.createIndex('client_requests_created').on('client_requests').column('created_at').execute();
}
