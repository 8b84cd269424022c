/**
 * Request IDs of Ferry's own form (`req-<uuid>`, 40 characters; `req-<uuid>.<region>` for one region's part
 * of a BCC request): a replication's jobs and events now keep the ID of the API request that started it,
 * which its calls between regions carry and every region logs (api/request-ids.ts). The columns made for the
 * former 32-character IDs take 64. SQLite does not enforce a declared length, so only PostgreSQL changes.
 * @module
 */
import { SqliteAdapter, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  if (db.getExecutor().adapter instanceof SqliteAdapter) return;
  for (const [table, column] of [
    ['jobs', 'request_id'],
    ['events', 'request_id'],
    ['events', 'job_id'],
  ] as const) {
    await db.schema
      .alterTable(table)
      .alterColumn(column, (c) => c.setDataType('varchar(64)'))
      .execute();
  }
}
