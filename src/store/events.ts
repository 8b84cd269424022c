/**
 * Events, webhooks and deliveries, one function per query (replication/events.ts and region/webhook-sender.ts
 * say how they are used).
 * @module
 */
import type { Db } from './db.js';
import type { EventsTable, WebhookDeliveriesTable, WebhooksTable } from './schema.js';

export type EventRow = EventsTable;
export type WebhookRow = WebhooksTable;
export type DeliveryRow = WebhookDeliveriesTable;

/**
 * Records an event and a pending delivery of it to each of the account's webhooks, at once; false if the job
 * already has an event of this type (nothing is written then).
 */
export async function recordEvent(db: Db, event: EventRow): Promise<boolean> {
  // Within the caller's transaction when it has one (a job's state and the events it means are one change).
  const atOnce = <T>(work: (tx: Db) => Promise<T>): Promise<T> =>
    db.isTransaction ? work(db) : db.transaction().execute(work);
  return atOnce(async (tx) => {
    const inserted = await tx
      .insertInto('events')
      .values(event)
      .onConflict((oc) => oc.columns(['job_id', 'type']).doNothing())
      .executeTakeFirst();
    if (Number(inserted.numInsertedOrUpdatedRows ?? 0) !== 1) return false;
    const hooks = await tx
      .selectFrom('webhooks')
      .select('id')
      .where('account_id', '=', event.account_id)
      .execute();
    if (hooks.length > 0) {
      await tx
        .insertInto('webhook_deliveries')
        .values(
          hooks.map((hook) => ({
            webhook_id: hook.id,
            event_id: event.id,
            status: 'pending',
            attempts: 0,
            next_at: event.created_at,
            last_status: null,
            last_error: null,
            updated_at: event.created_at,
          })),
        )
        .execute();
    }
    return true;
  });
}

/** Whether the account has an event of this type for this job (or request). */
export async function hasEvent(db: Db, jobId: string, type: string): Promise<boolean> {
  const row = await db
    .selectFrom('events')
    .select('id')
    .where('job_id', '=', jobId)
    .where('type', '=', type)
    .executeTakeFirst();
  return row !== undefined;
}

export interface EventFilters {
  accountId: string;
  imageId?: string;
  jobId?: string;
  requestId?: string;
  type?: string;
  since?: string;
  until?: string;
  limit: number;
}

/** The account's events, oldest first, filtered. */
export async function listEvents(db: Db, filters: EventFilters): Promise<EventRow[]> {
  let query = db.selectFrom('events').selectAll().where('account_id', '=', filters.accountId);
  if (filters.imageId !== undefined) query = query.where('image_id', '=', filters.imageId);
  if (filters.jobId !== undefined) query = query.where('job_id', '=', filters.jobId);
  if (filters.requestId !== undefined) query = query.where('request_id', '=', filters.requestId);
  if (filters.type !== undefined) query = query.where('type', '=', filters.type);
  if (filters.since !== undefined) query = query.where('created_at', '>=', filters.since);
  if (filters.until !== undefined) query = query.where('created_at', '<', filters.until);
  return query.orderBy('created_at').orderBy('rank').orderBy('id').limit(filters.limit).execute();
}

export async function insertWebhook(db: Db, row: WebhookRow): Promise<void> {
  await db.insertInto('webhooks').values(row).execute();
}

export async function listWebhooks(db: Db, accountId: string): Promise<WebhookRow[]> {
  return db
    .selectFrom('webhooks')
    .selectAll()
    .where('account_id', '=', accountId)
    .orderBy('created_at')
    .execute();
}

export async function deleteWebhook(db: Db, accountId: string, id: string): Promise<boolean> {
  return db.transaction().execute(async (tx) => {
    const result = await tx
      .deleteFrom('webhooks')
      .where('id', '=', id)
      .where('account_id', '=', accountId)
      .executeTakeFirst();
    if (Number(result.numDeletedRows) !== 1) return false;
    await tx.deleteFrom('webhook_deliveries').where('webhook_id', '=', id).execute();
    return true;
  });
}

/** A webhook's deliveries, newest first. */
export async function listDeliveries(db: Db, webhookId: string, limit: number): Promise<DeliveryRow[]> {
  return db
    .selectFrom('webhook_deliveries')
    .selectAll()
    .where('webhook_id', '=', webhookId)
    .orderBy('updated_at', 'desc')
    .limit(limit)
    .execute();
}

/** Pending deliveries due by `now`, with their webhook and event, oldest first. */
export async function dueDeliveries(db: Db, now: string, limit: number) {
  return db
    .selectFrom('webhook_deliveries')
    .innerJoin('webhooks', 'webhooks.id', 'webhook_deliveries.webhook_id')
    .innerJoin('events', 'events.id', 'webhook_deliveries.event_id')
    .select([
      'webhook_deliveries.webhook_id',
      'webhook_deliveries.event_id',
      'webhook_deliveries.attempts',
      'webhooks.url',
      'webhooks.secret',
      'events.account_id',
      'events.type',
      'events.job_id',
      'events.image_id',
      'events.details',
      'events.created_at',
    ])
    .where('webhook_deliveries.status', '=', 'pending')
    .where('webhook_deliveries.next_at', '<=', now)
    .orderBy('webhook_deliveries.next_at')
    .orderBy('events.created_at')
    .orderBy('events.rank')
    .limit(limit)
    .execute();
}

export async function updateDelivery(
  db: Db,
  webhookId: string,
  eventId: string,
  update: Partial<Omit<DeliveryRow, 'webhook_id' | 'event_id'>>,
): Promise<void> {
  await db
    .updateTable('webhook_deliveries')
    .set(update)
    .where('webhook_id', '=', webhookId)
    .where('event_id', '=', eventId)
    .execute();
}
