/**
 * Identity changes every region must learn: a revoked token, a user's revoked tokens, a user disabled or
 * enabled. Identity is global but each region keeps its own copy, so a change made here is owed to every other
 * region until it acknowledges it. The change and its deliveries are written in one transaction
 * (`changeEverywhere`), sent at once, and what could not be sent stays in the durable queue
 * (store/identity-deliveries.ts), sent again by the region's periodic task (region/identity-delivery-sender.ts)
 * with a doubling backoff, capped, and never given up: a region down for a day learns of the revocation once it
 * is back, within `replication.identityRetryMaxMs` (default: 1 minute) of its return.
 *
 * Every change is idempotent and may arrive late or twice, from several regions, in any order: a revocation
 * only ever revokes; a user's tokens are revoked by issue time (those issued up to the change, as Keystone's
 * revocation events by user), so a late one does not touch tokens issued since; and of several enables and
 * disables the latest (`changed_at`) wins. This relies on the regions' clocks agreeing (NTP) to within the time
 * between issuing a token and revoking a user's tokens.
 * @module
 */
import { coerceError } from '../domain/errors.js';
import { newHexId } from '../domain/ids.js';
import { timestamp } from '../store/clock.js';
import type { Db } from '../store/db.js';
import { revokeUserTokens, setUserEnabled } from '../store/identity.js';
import {
  deleteIdentityDelivery,
  dueIdentityDeliveries,
  insertIdentityDeliveries,
  postponeIdentityDelivery,
  type IdentityDelivery,
} from '../store/identity-deliveries.js';
import type { IdentityChangeKind } from '../store/schema.js';
import type { RegionContext } from '../region/context.js';
import { PEER_CALLS, peerRegions, type TokenRevocation, type UserChange } from './peer-api.js';

/** Deliveries sent per run of the sender. */
const DELIVERIES_PER_RUN = 100;

/** A change made in this region, as every other region must apply it. */
export interface IdentityChange {
  kind: IdentityChangeKind;
  user_id: string;
  /** token_revoked: the token's secret hash. */
  secret_hash?: string;
  /** When the change was made here (ISO 8601). */
  changed_at: string;
}

/**
 * Makes a change here with `local` and, in the same transaction, queues it for every other region; then sends
 * it at once. Resolves what `local` resolved, once the change is stored here: a region that could not be
 * reached gets it later from the queue, so the caller never has to repeat it. `local` resolves undefined when
 * there was nothing to change (an unknown token): nothing is queued.
 */
export async function changeEverywhere<T>(
  ctx: RegionContext,
  local: (tx: Db, changedAt: string) => Promise<{ result: T; change: IdentityChange } | undefined>,
): Promise<T | undefined> {
  const created = timestamp(ctx.clock);
  const made = await ctx.db.transaction().execute(async (tx) => {
    const done = await local(tx, created);
    if (done === undefined) return undefined;
    const rows = peerRegions(ctx).map((region): IdentityDelivery => ({
      id: newHexId(),
      region,
      kind: done.change.kind,
      user_id: done.change.user_id,
      secret_hash: done.change.secret_hash ?? null,
      changed_at: done.change.changed_at,
      attempts: 0,
      // Sent at once below; the periodic task leaves it alone meanwhile, and takes it after a crash.
      next_at: new Date(Date.parse(created) + ctx.replication.identityRetryBaseMs).toISOString(),
      last_error: null,
      created_at: created,
    }));
    await insertIdentityDeliveries(tx, rows);
    return { ...done, rows };
  });
  if (made === undefined) return undefined;
  await deliverIdentityChanges(ctx, made.rows);
  return made.result;
}

/** Sends the deliveries that are due; called by the region's periodic task. */
export async function sendDueIdentityDeliveries(ctx: RegionContext, signal?: AbortSignal): Promise<void> {
  const due = await dueIdentityDeliveries(ctx.db, timestamp(ctx.clock), DELIVERIES_PER_RUN);
  await deliverIdentityChanges(ctx, due, signal);
}

/**
 * Sends each delivery to its region, in the order given, the regions in parallel: an acknowledged one is
 * removed, a failed one is tried again after its backoff, and so is the rest of that region's batch (its
 * region is likely still down: calling it once per run is enough). A region no longer in the catalog will
 * never take it: dropped.
 */
async function deliverIdentityChanges(
  ctx: RegionContext,
  deliveries: IdentityDelivery[],
  signal?: AbortSignal,
): Promise<void> {
  const peers = new Set(peerRegions(ctx));
  const byRegion = new Map<string, IdentityDelivery[]>();
  for (const delivery of deliveries)
    byRegion.set(delivery.region, [...(byRegion.get(delivery.region) ?? []), delivery]);
  await Promise.all(
    [...byRegion].map(async ([region, queued]) => {
      let failure: string | undefined;
      for (const delivery of queued) {
        if (signal?.aborted) return;
        if (!peers.has(region)) {
          await deleteIdentityDelivery(ctx.db, delivery.id);
          continue;
        }
        if (failure === undefined) {
          try {
            await sendChange(ctx, delivery);
            await deleteIdentityDelivery(ctx.db, delivery.id);
            continue;
          } catch (error) {
            failure = coerceError(error).message;
          }
        }
        await postponeIdentityDelivery(ctx.db, delivery.id, {
          attempts: delivery.attempts + 1,
          next_at: new Date(
            ctx.clock.now().getTime() + retryDelayMs(ctx, delivery.attempts + 1),
          ).toISOString(),
          last_error: failure,
        });
      }
    }),
  );
}

/** The wait after the `attempts`-th failed try: the base, doubling, at most the cap. */
export function retryDelayMs(ctx: Pick<RegionContext, 'replication'>, attempts: number): number {
  const { identityRetryBaseMs, identityRetryMaxMs } = ctx.replication;
  return Math.min(identityRetryMaxMs, identityRetryBaseMs * 2 ** Math.min(attempts - 1, 30));
}

/**
 * One delivery, as its region takes it. A revoked token goes through the call regions made before this queue
 * existed (`revokeToken`), so a region not yet upgraded takes it too.
 */
async function sendChange(ctx: RegionContext, delivery: IdentityDelivery): Promise<void> {
  if (delivery.kind === 'token_revoked') {
    const body: TokenRevocation = { user_id: delivery.user_id, secret_hash: delivery.secret_hash! };
    const call = PEER_CALLS.revokeToken;
    await ctx.regions.call(delivery.region, call.method, call.path(), body);
    return;
  }
  const body: UserChange = {
    kind: delivery.kind,
    user_id: delivery.user_id,
    changed_at: delivery.changed_at,
  };
  const call = PEER_CALLS.identityChange;
  await ctx.regions.call(delivery.region, call.method, call.path(), body);
}

/**
 * Applies another region's change to a user here (the receiving side of `identityChange`). A user unknown here
 * has nothing to change: acknowledged all the same, or the sender would retry forever. Resolves how many
 * tokens it revoked and whether the user's state changed.
 */
export async function applyUserChange(
  ctx: RegionContext,
  change: UserChange,
): Promise<{ revoked: number; state_changed: boolean }> {
  return ctx.db.transaction().execute(async (tx) => {
    const revoked =
      change.kind === 'user_enabled'
        ? 0
        : await revokeUserTokens(tx, ctx.clock, change.user_id, change.changed_at);
    const stateChanged =
      change.kind === 'user_tokens_revoked'
        ? false
        : await setUserEnabled(tx, change.user_id, change.kind === 'user_enabled', change.changed_at);
    return { revoked, state_changed: stateChanged };
  });
}
