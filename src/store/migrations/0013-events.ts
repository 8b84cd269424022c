/**
 * Events (what happened to an account's replications, readable through `GET /v1/events`), the webhooks an
 * account registers, and each event's delivery to each webhook (replication/events.ts, region/webhook-sender.ts).
 * @module
 */
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('events')
    .addColumn('id', 'varchar(32)', (c) => c.primaryKey())
    .addColumn('account_id', 'varchar(32)', (c) => c.notNull())
    .addColumn('type', 'varchar(64)', (c) => c.notNull())
    .addColumn('job_id', 'varchar(32)', (c) => c.notNull())
    .addColumn('image_id', 'varchar(64)', (c) => c.notNull())
    /** JSON: the job's destination, its new image, its progress or its failure. */
    .addColumn('details', 'text', (c) => c.notNull())
    .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
    /** The type's place in a job's life (started, milestones, end): orders events of the same instant. */
    .addColumn('rank', 'integer', (c) => c.notNull())
    .execute();
  // One event of a type per job: a state learnt twice (pulled, then pushed) is recorded once.
  await db.schema.createIndex('events_job_type').on('events').columns(['job_id', 'type']).unique().execute();
  await db.schema
    .createIndex('events_account_time')
    .on('events')
    .columns(['account_id', 'created_at'])
    .execute();
  await db.schema
    .createTable('webhooks')
    .addColumn('id', 'varchar(32)', (c) => c.primaryKey())
    .addColumn('account_id', 'varchar(32)', (c) => c.notNull())
    .addColumn('url', 'varchar(2048)', (c) => c.notNull())
    /** The HMAC key deliveries are signed with (shown once at creation; kept to sign). */
    .addColumn('secret', 'varchar(128)', (c) => c.notNull())
    .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
    .execute();
  await db.schema
    .createTable('webhook_deliveries')
    .addColumn('webhook_id', 'varchar(32)', (c) => c.notNull())
    .addColumn('event_id', 'varchar(32)', (c) => c.notNull())
    /** pending, delivered or failed (gave up after the last attempt). */
    .addColumn('status', 'varchar(16)', (c) => c.notNull())
    .addColumn('attempts', 'integer', (c) => c.notNull())
    .addColumn('next_at', 'varchar(32)', (c) => c.notNull())
    .addColumn('last_status', 'integer')
    .addColumn('last_error', 'text')
    .addColumn('updated_at', 'varchar(32)', (c) => c.notNull())
    .addPrimaryKeyConstraint('webhook_deliveries_pk', ['webhook_id', 'event_id'])
    .execute();
  await db.schema
    .createIndex('webhook_deliveries_due')
    .on('webhook_deliveries')
    .columns(['status', 'next_at'])
    .execute();
}
