/**
 * Idempotent submission, as AWS CopyImage's `ClientToken`: a request that carries a client token (the
 * `client_token` field or the `X-Client-Token` header) is answered once per token and account. The same
 * token with the same request within CLIENT_TOKEN_TTL_MS answers what the first answered (the same jobs, none
 * started again); with another request it is refused (IDEMPOTENCY_MISMATCH). A request that failed leaves no
 * trace, so its retry runs anew; one still running makes a concurrent retry wait its turn (REQUEST_IN_PROGRESS).
 * @module
 */
import { createHash } from 'node:crypto';
import { FerryError } from '../domain/errors.js';
import type { Principal } from '../identity/tokens.js';
import { timestamp } from '../store/clock.js';
import {
  claimClientToken,
  deleteClientRequestsBefore,
  findClientRequest,
  recordClientAnswer,
  releaseClientToken,
  type ClientRequestRow,
} from '../store/client-requests.js';
import type { RegionContext } from '../region/context.js';

/** How long a client token is remembered (AWS: 24 hours). */
export const CLIENT_TOKEN_TTL_MS = 24 * 3600_000;

/** JSON with object keys in order, so that the same request always hashes the same. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

function earlierAnswer<T>(row: ClientRequestRow, requestHash: string): T {
  if (row.request_hash !== requestHash) {
    throw new FerryError(
      'IDEMPOTENCY_MISMATCH',
      `Client token ${row.client_token} was used for another request in the last 24 hours: use a new token for a new request.`,
    );
  }
  if (row.answer === null) {
    throw new FerryError(
      'REQUEST_IN_PROGRESS',
      `The request with client token ${row.client_token} is still running: retry in a moment for its answer.`,
    );
  }
  return JSON.parse(row.answer) as T;
}

/**
 * Runs `run` once per client token: `request` names the call and everything it was asked (its path and body
 * without the token). Without a token, `run` simply runs.
 */
export async function oncePerClientToken<T>(
  ctx: RegionContext,
  principal: Principal,
  clientToken: string | undefined,
  request: unknown,
  run: () => Promise<T>,
): Promise<T> {
  if (clientToken === undefined) return run();
  const requestHash = createHash('sha256').update(canonicalJson(request)).digest('hex');
  const now = ctx.clock.now();
  // Tokens older than the TTL are forgotten here, as they come up, rather than by a timer of their own.
  await deleteClientRequestsBefore(ctx.db, new Date(now.getTime() - CLIENT_TOKEN_TTL_MS).toISOString());
  const row = { account_id: principal.accountId, client_token: clientToken, request_hash: requestHash };
  if (!(await claimClientToken(ctx.db, { ...row, created_at: timestamp(ctx.clock) }))) {
    const earlier = await findClientRequest(ctx.db, principal.accountId, clientToken);
    if (earlier) return earlierAnswer<T>(earlier, requestHash);
    return oncePerClientToken(ctx, principal, clientToken, request, run); // released meanwhile: ours now
  }
  let answer: T;
  try {
    answer = await run();
  } catch (error) {
    await releaseClientToken(ctx.db, principal.accountId, clientToken);
    throw error;
  }
  await recordClientAnswer(ctx.db, principal.accountId, clientToken, JSON.stringify(answer));
  return answer;
}
