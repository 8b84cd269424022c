/**
 * API tokens: random secrets shown once, stored only as their SHA-256, with an expiry and revocation.
 * A request's token resolves to a Principal: the user, their account and the project the token acts in.
 * @module
 */
import { createHash, randomBytes } from 'node:crypto';
import { FerryError } from '../domain/errors.js';
import { newHexId } from '../domain/ids.js';
import type { Db } from '../store/db.js';
import type { Clock } from '../store/clock.js';
import { timestamp } from '../store/clock.js';
import {
  findProject,
  findTokenByHash,
  findUser,
  insertToken,
  listTokens,
  type Token,
} from '../store/identity.js';
import type { RegionContext } from '../region/context.js';

/** How long a token lives unless the caller asks otherwise (default: 30 days). */
export const DEFAULT_TOKEN_TTL_SECONDS = 30 * 24 * 3600;

/** Prefix that makes a Ferry token recognisable in logs and secret scanners. */
const TOKEN_PREFIX = 'fry_';

export interface Principal {
  tokenId: string;
  userId: string;
  accountId: string;
  projectId: string;
  isAdmin: boolean;
  /** When the token the request came with expires (ISO 8601). */
  expiresAt: string;
  /** That token's secret's SHA-256 (a token made with it is copied to the regions where it works). */
  secretHash: string;
}

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

/** A new token secret: 32 random bytes, base64url. */
export function newTokenSecret(): string {
  return TOKEN_PREFIX + randomBytes(32).toString('base64url');
}

export interface IssuedToken {
  secret: string;
  token: Token;
}

/**
 * The row for a new token (not yet stored), so the same token can be stored in several regions' databases.
 */
export function prepareToken(
  clock: Clock,
  options: {
    userId: string;
    projectId: string;
    description?: string;
    ttlSeconds?: number;
    /** Expire no later than this (ISO 8601): a token issued with a token lives no longer than its parent. */
    notAfter?: string;
    /** The secret hash of the token it is issued with: revoking that one revokes this one too. */
    parentHash?: string;
    secret?: string;
  },
): IssuedToken {
  const secret = options.secret ?? newTokenSecret();
  const created = clock.now();
  const wanted = created.getTime() + (options.ttlSeconds ?? DEFAULT_TOKEN_TTL_SECONDS) * 1000;
  const limit = options.notAfter === undefined ? Infinity : Date.parse(options.notAfter);
  const expires = new Date(Math.min(wanted, limit));
  return {
    secret,
    token: {
      id: newHexId(),
      user_id: options.userId,
      project_id: options.projectId,
      secret_hash: hashSecret(secret),
      description: options.description ?? '',
      created_at: timestamp(clock),
      expires_at: expires.toISOString(),
      revoked_at: null,
      parent_hash: options.parentHash ?? null,
    },
  };
}

export async function issueToken(
  db: Db,
  clock: Clock,
  options: Parameters<typeof prepareToken>[1],
): Promise<IssuedToken> {
  const issued = prepareToken(clock, options);
  await insertToken(db, issued.token);
  return issued;
}

/**
 * Resolves a secret to its principal, or throws UNAUTHORIZED (unknown, expired or revoked: one message), or
 * USER_DISABLED for a known token of a user an administrator disabled, revoked or not (its holder knows the
 * secret already, so saying why leaks nothing, and tells them whom to ask).
 */
export async function authenticate(db: Db, clock: Clock, secret: string): Promise<Principal> {
  const refused = () =>
    new FerryError('UNAUTHORIZED', 'The token is unknown, expired or revoked. Ask for a new token.');
  const token = await findTokenByHash(db, hashSecret(secret));
  if (!token) throw refused();
  const [user, project] = await Promise.all([findUser(db, token.user_id), findProject(db, token.project_id)]);
  if (!user || !project) throw refused();
  // Before revocation: disabling a user revokes their tokens too, and the holder should learn why.
  if (user.enabled === 0) {
    throw new FerryError(
      'USER_DISABLED',
      `User ${user.name} is disabled: ask an administrator to enable it.`,
    );
  }
  if (token.revoked_at !== null || token.expires_at <= timestamp(clock)) throw refused();
  return {
    tokenId: token.id,
    userId: user.id,
    accountId: user.account_id,
    projectId: project.id,
    isAdmin: user.is_admin === 1,
    expiresAt: token.expires_at,
    secretHash: token.secret_hash,
  };
}

/** The caller's tokens in this region (never their secrets). */
export function tokensOf(ctx: RegionContext, principal: Principal): Promise<Token[]> {
  return listTokens(ctx.db, principal.userId);
}
