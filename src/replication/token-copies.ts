/**
 * A token's secret in every region. Identity is global but each region keeps its own copy (see
 * provision.ts), and a token is a row per region, each acting in that region's project. A token issued in one
 * region is copied to the others through the region-to-region API, and a revocation follows the same way, so
 * a token works, and stops working, everywhere at once. A copy that could not be made is not retried (the answer
 * lists where the token works); a revocation is, until every region has it (identity-deliveries.ts).
 *
 * Which project a copy acts in: for a token made with a token, the project its parent acts in there (so it
 * works wherever its parent works, never longer); for a token an administrator issues, the user's project of
 * the same name there, else the one named after that region (as provisioning names them). A region where the
 * user has no such project gets no copy.
 * @module
 */
import { FerryError } from '../domain/errors.js';
import { newHexId } from '../domain/ids.js';
import { issueToken, type IssuedToken, type Principal } from '../identity/tokens.js';
import { timestamp } from '../store/clock.js';
import {
  findProject,
  findProjectByName,
  findTokenByHash,
  findUser,
  insertToken,
  revokeToken,
  revokeTokensByHash,
  type Token,
} from '../store/identity.js';
import type { RegionContext } from '../region/context.js';
import { changeEverywhere } from './identity-deliveries.js';
import { PEER_CALLS, peerRegions, type PeerCall, type TokenCopy } from './peer-api.js';

/** What another region needs to store its copy of a new token (never the secret, only its SHA-256). */
export type { TokenCopy };

/** Where a token works after it was copied (this region first), and the regions that could not be reached. */
export interface TokenSpread {
  regions: string[];
  notReached: string[];
}

async function callPeers<T>(ctx: RegionContext, peerCall: PeerCall, body: unknown) {
  const peers = peerRegions(ctx);
  const results = await Promise.allSettled(
    peers.map((region) => ctx.regions.call<T>(region, peerCall.method, peerCall.path(), body)),
  );
  return peers.map((region, i) => ({ region, result: results[i]! }));
}

/**
 * Copies a token just issued here to every other region, to act in the project `actsIn` names there: its
 * parent's (by the parent's secret hash) or one found by name.
 */
export async function copyTokenToPeers(
  ctx: RegionContext,
  token: Token,
  actsIn: Pick<TokenCopy, 'parent_secret_hash'> | Pick<TokenCopy, 'project_name'>,
): Promise<TokenSpread> {
  const copy: TokenCopy = {
    user_id: token.user_id,
    secret_hash: token.secret_hash,
    description: token.description,
    expires_at: token.expires_at,
    ...actsIn,
  };
  const spread: TokenSpread = { regions: [ctx.region], notReached: [] };
  for (const { region, result } of await callPeers<{ stored: boolean }>(ctx, PEER_CALLS.copyToken, copy)) {
    if (result.status === 'rejected') spread.notReached.push(region);
    else if (result.value.stored) spread.regions.push(region);
  }
  return spread;
}

/** A token just issued, with its secret (shown once) and where it works. */
export interface SpreadToken extends IssuedToken {
  spread: TokenSpread;
}

/**
 * A token made with the caller's token: it acts in the caller's project, works wherever the caller's token
 * works, and, as in Keystone, neither outlives it nor survives its revocation.
 */
export async function issueTokenEverywhere(
  ctx: RegionContext,
  principal: Principal,
  fields: { description?: string | null; ttl_seconds?: number },
): Promise<SpreadToken> {
  const issued = await issueToken(ctx.db, ctx.clock, {
    userId: principal.userId,
    projectId: principal.projectId,
    description: fields.description ?? '',
    ttlSeconds: fields.ttl_seconds,
    notAfter: principal.expiresAt,
    parentHash: principal.secretHash,
  });
  const spread = await copyTokenToPeers(ctx, issued.token, { parent_secret_hash: principal.secretHash });
  return { ...issued, spread };
}

/**
 * An administrator's token for a user, acting in `project_id` (a project of the user's account here) and, in
 * every other region, in the user's project of the same name (else the one named after that region).
 */
export async function issueUserToken(
  ctx: RegionContext,
  userId: string,
  fields: { project_id: string; ttl_seconds?: number },
): Promise<SpreadToken> {
  const user = await findUser(ctx.db, userId);
  if (!user) throw new FerryError('NOT_FOUND', `No user ${userId}.`);
  if (user.enabled === 0) throw new FerryError('CONFLICT', `User ${user.name} is disabled: enable it first.`);
  const project = await findProject(ctx.db, fields.project_id);
  if (!project || project.account_id !== user.account_id || project.region !== ctx.region) {
    throw new FerryError(
      'VALIDATION_FAILED',
      `project_id must be a project of the user's account in ${ctx.region}.`,
    );
  }
  const issued = await issueToken(ctx.db, ctx.clock, {
    userId: user.id,
    projectId: project.id,
    ttlSeconds: fields.ttl_seconds,
  });
  return { ...issued, spread: await copyTokenToPeers(ctx, issued.token, { project_name: project.name }) };
}

/**
 * Revokes one of the caller's tokens in every region, and with it the tokens made with it. Done here at once;
 * a region that cannot be reached now gets it from the durable queue (identity-deliveries.ts).
 */
export async function revokeTokenEverywhere(
  ctx: RegionContext,
  principal: Principal,
  tokenId: string,
): Promise<void> {
  const revoked = await changeEverywhere(ctx, async (tx, changedAt) => {
    const secretHash = await revokeToken(tx, ctx.clock, principal.userId, tokenId);
    if (secretHash === undefined) return undefined;
    return {
      result: secretHash,
      change: {
        kind: 'token_revoked',
        user_id: principal.userId,
        secret_hash: secretHash,
        changed_at: changedAt,
      },
    };
  });
  if (revoked === undefined) throw new FerryError('NOT_FOUND', `You have no token ${tokenId}.`);
}

/** Stores this region's copy of another region's new token; resolves false where it has no project to act in. */
export async function storeTokenCopy(ctx: RegionContext, copy: TokenCopy): Promise<boolean> {
  if (await findTokenByHash(ctx.db, copy.secret_hash)) return true; // copied already (a retried call)
  const user = await findUser(ctx.db, copy.user_id);
  if (!user || user.enabled === 0) return false; // a disabled user gets no new token anywhere
  let projectId: string | undefined;
  let expiresAt = copy.expires_at;
  if (copy.parent_secret_hash !== undefined) {
    const parent = await findTokenByHash(ctx.db, copy.parent_secret_hash);
    const now = timestamp(ctx.clock);
    if (!parent || parent.user_id !== user.id || parent.revoked_at !== null || parent.expires_at <= now)
      return false;
    projectId = parent.project_id;
    if (parent.expires_at < expiresAt) expiresAt = parent.expires_at;
  } else {
    const project =
      (copy.project_name !== undefined
        ? await findProjectByName(ctx.db, user.account_id, ctx.region, copy.project_name)
        : undefined) ?? (await findProjectByName(ctx.db, user.account_id, ctx.region, ctx.region));
    projectId = project?.id;
  }
  if (projectId === undefined) return false;
  await insertToken(ctx.db, {
    id: newHexId(),
    user_id: user.id,
    project_id: projectId,
    secret_hash: copy.secret_hash,
    description: copy.description,
    created_at: timestamp(ctx.clock),
    expires_at: expiresAt,
    revoked_at: null,
    parent_hash: copy.parent_secret_hash ?? null,
  });
  return true;
}

/** Revokes this region's copy of a token revoked in another region; resolves how many rows it revoked. */
export function revokeTokenCopy(ctx: RegionContext, userId: string, secretHash: string): Promise<number> {
  return revokeTokensByHash(ctx.db, ctx.clock, userId, secretHash);
}
