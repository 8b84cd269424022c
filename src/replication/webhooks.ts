/**
 * Webhooks: an account registers URLs, and each event of its replications (events.ts) is POSTed to each, as
 * JSON signed with the webhook's secret (`X-Ferry-Signature: sha256=<hex HMAC-SHA256 of the body>`), retried
 * with a doubling backoff until a 2xx answer or `replication.webhookAttempts` tries: at least once, so a
 * receiver tells repeats apart by `X-Ferry-Event-Id`. Each delivery's state is kept for the account to read.
 * @module
 */
import { createHmac, randomBytes } from 'node:crypto';
import { FerryError } from '../domain/errors.js';
import { newHexId } from '../domain/ids.js';
import type { Principal } from '../identity/tokens.js';
import { timestamp } from '../store/clock.js';
import {
  deleteWebhook,
  dueDeliveries,
  insertWebhook,
  listDeliveries,
  listWebhooks,
  updateDelivery,
  type DeliveryRow,
  type WebhookRow,
} from '../store/events.js';
import type { RegionContext } from '../region/context.js';
import { assertWebhookUrl, postWebhook } from './webhook-target.js';

/** How long one delivery may take before it counts as failed. */
const DELIVERY_TIMEOUT_MS = 10_000;
/** Deliveries sent per run of the sender. */
const DELIVERIES_PER_RUN = 50;
/** Webhooks one account may have in a region. */
export const MAX_WEBHOOKS = 10;

export function signature(secret: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/** Registers a webhook; its secret is in this answer only. */
export async function createWebhook(
  ctx: RegionContext,
  principal: Principal,
  url: string,
): Promise<WebhookRow> {
  assertWebhookUrl(url, ctx.replication.webhookPrivateAddresses);
  if ((await listWebhooks(ctx.db, principal.accountId)).length >= MAX_WEBHOOKS) {
    throw new FerryError(
      'LIMIT_EXCEEDED',
      `An account may have at most ${MAX_WEBHOOKS} webhooks in a region.`,
    );
  }
  const row: WebhookRow = {
    id: newHexId<string>(),
    account_id: principal.accountId,
    url,
    secret: randomBytes(32).toString('base64url'),
    created_at: timestamp(ctx.clock),
  };
  await insertWebhook(ctx.db, row);
  return row;
}

export function webhooksOf(ctx: RegionContext, principal: Principal): Promise<WebhookRow[]> {
  return listWebhooks(ctx.db, principal.accountId);
}

export async function removeWebhook(ctx: RegionContext, principal: Principal, id: string): Promise<void> {
  if (!(await deleteWebhook(ctx.db, principal.accountId, id))) {
    throw new FerryError('NOT_FOUND', `You have no webhook ${id}.`);
  }
}

export async function deliveriesOf(
  ctx: RegionContext,
  principal: Principal,
  id: string,
): Promise<DeliveryRow[]> {
  if (!(await listWebhooks(ctx.db, principal.accountId)).some((hook) => hook.id === id)) {
    throw new FerryError('NOT_FOUND', `You have no webhook ${id}.`);
  }
  return listDeliveries(ctx.db, id, 100);
}

/** Sends the deliveries that are due; each success, failure and retry is recorded. */
export async function sendDueDeliveries(ctx: RegionContext, signal?: AbortSignal): Promise<void> {
  const now = ctx.clock.now();
  for (const due of await dueDeliveries(ctx.db, now.toISOString(), DELIVERIES_PER_RUN)) {
    if (signal?.aborted) return;
    const body = JSON.stringify({
      id: due.event_id,
      type: due.type,
      region: ctx.region,
      account_id: due.account_id,
      job_id: due.job_id,
      image_id: due.image_id,
      created_at: due.created_at,
      details: JSON.parse(due.details) as unknown,
    });
    let status: number | null = null;
    let error: string | null = null;
    try {
      const headers = {
        'content-type': 'application/json',
        'x-ferry-event-id': due.event_id,
        'x-ferry-event-type': due.type,
        'x-ferry-signature': signature(due.secret, body),
      };
      status = await postWebhook(due.url, headers, body, {
        privateAddresses: ctx.replication.webhookPrivateAddresses,
        timeoutMs: DELIVERY_TIMEOUT_MS,
      });
    } catch (caught) {
      error = (caught as Error).message;
    }
    const attempts = due.attempts + 1;
    const at = timestamp(ctx.clock);
    if (status !== null && status >= 200 && status < 300) {
      await updateDelivery(ctx.db, due.webhook_id, due.event_id, {
        status: 'delivered',
        attempts,
        last_status: status,
        last_error: null,
        updated_at: at,
      });
      continue;
    }
    const giveUp = attempts >= ctx.replication.webhookAttempts;
    const delay = ctx.replication.webhookRetryBaseMs * 2 ** (attempts - 1);
    await updateDelivery(ctx.db, due.webhook_id, due.event_id, {
      status: giveUp ? 'failed' : 'pending',
      attempts,
      next_at: new Date(ctx.clock.now().getTime() + delay).toISOString(),
      last_status: status,
      last_error: error ?? `HTTP ${status}`,
      updated_at: at,
    });
  }
}
