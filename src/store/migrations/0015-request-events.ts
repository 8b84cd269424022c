/**
 * Requests: the jobs one replication call started share a request ID (`jobs.request_id`, source rows), and
 * every event of theirs carries it (`events.request_id`), beside the request's own events (`request.started`,
 * `request.finished`), so that `GET /v1/events?request_id=` gives a call's whole story.
 * @module
 */
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('jobs').addColumn('request_id', 'varchar(32)').execute();
  await db.schema.createIndex('jobs_request').on('jobs').column('request_id').execute();
  await db.schema.alterTable('events').addColumn('request_id', 'varchar(32)').execute();
  await db.schema
    .createIndex('events_account_request')
    .on('events')
    .columns(['account_id', 'request_id'])
    .execute();
}
