/**
 * An administrator's hand on another user: list the user's tokens, revoke one or all of them, disable the user
 * and enable them again. Each change is made here at once and reaches every other region through the durable
 * queue (identity-deliveries.ts), so a region that is down learns it when it is back.
 *
 * Disabling, as in Keystone, does two things, both sent to every region: the user is marked disabled, which
 * authentication checks (a disabled user's tokens are refused with USER_DISABLED, and no new token is issued
 * or copied for them), and every token issued to the user so far is revoked. The mark alone would let the old
 * tokens, perhaps leaked (the usual reason to disable someone), work again on enabling; revocation alone would
 * let a token issued in a region that has not heard yet through. Enabling lifts the mark only: the user needs
 * new tokens.
 * @module
 */
import { FerryError } from '../domain/errors.js';
import type { Principal } from '../identity/tokens.js';
import { identityDeliveriesOf, type IdentityDelivery } from '../store/identity-deliveries.js';
import {
  findUser,
  listTokens,
  revokeToken,
  revokeUserTokens,
  setUserEnabled,
  type Token,
  type User,
} from '../store/identity.js';
import type { Db } from '../store/db.js';
import type { RegionContext } from '../region/context.js';
import { changeEverywhere } from './identity-deliveries.js';

async function loadUser(db: Db, userId: string): Promise<User> {
  const user = await findUser(db, userId);
  if (!user) throw new FerryError('NOT_FOUND', `No user ${userId}.`);
  return user;
}

/** The user's tokens in this region (never their secrets), and the changes to them other regions still owe. */
export async function userTokens(
  ctx: RegionContext,
  userId: string,
): Promise<{ tokens: Token[]; undelivered: IdentityDelivery[] }> {
  await loadUser(ctx.db, userId);
  const [tokens, undelivered] = await Promise.all([
    listTokens(ctx.db, userId),
    identityDeliveriesOf(ctx.db, userId),
  ]);
  return { tokens, undelivered };
}

/** Revokes one of the user's tokens in every region, and the tokens made with it. Idempotent. */
export async function revokeUserToken(ctx: RegionContext, userId: string, tokenId: string): Promise<void> {
  await loadUser(ctx.db, userId);
  const revoked = await changeEverywhere(ctx, async (tx, changedAt) => {
    const secretHash = await revokeToken(tx, ctx.clock, userId, tokenId);
    if (secretHash === undefined) return undefined;
    return {
      result: secretHash,
      change: { kind: 'token_revoked', user_id: userId, secret_hash: secretHash, changed_at: changedAt },
    };
  });
  if (revoked === undefined) throw new FerryError('NOT_FOUND', `User ${userId} has no token ${tokenId}.`);
}

/** Revokes every token issued to the user so far, in every region; resolves how many were revoked here. */
export async function revokeAllUserTokens(ctx: RegionContext, userId: string): Promise<number> {
  await loadUser(ctx.db, userId);
  const revoked = await changeEverywhere(ctx, async (tx, changedAt) => ({
    result: await revokeUserTokens(tx, ctx.clock, userId, changedAt),
    change: { kind: 'user_tokens_revoked', user_id: userId, changed_at: changedAt },
  }));
  return revoked ?? 0;
}

/**
 * Disables or enables the user in every region (see the module's header for what disabling does). An
 * administrator may not disable themselves: nobody might be left to enable them.
 */
export async function setUserEnabledEverywhere(
  ctx: RegionContext,
  principal: Principal,
  userId: string,
  enabled: boolean,
): Promise<User> {
  await loadUser(ctx.db, userId);
  if (!enabled && userId === principal.userId) {
    throw new FerryError('FORBIDDEN', 'An administrator cannot disable themselves.');
  }
  await changeEverywhere(ctx, async (tx, changedAt) => {
    await setUserEnabled(tx, userId, enabled, changedAt);
    if (!enabled) await revokeUserTokens(tx, ctx.clock, userId, changedAt);
    return {
      result: undefined,
      change: { kind: enabled ? 'user_enabled' : 'user_disabled', user_id: userId, changed_at: changedAt },
    };
  });
  return loadUser(ctx.db, userId);
}
