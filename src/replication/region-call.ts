/**
 * What every call from one region to another shares, the JSON calls of region-client.ts and the chunk
 * batches of batch-connection.ts alike: the headers, the time limit, and the error with its rule for
 * what may be retried (a refusal, 4xx but 429, is permanent; anything else is transient).
 * @module
 */
import { timingSafeEqual } from 'node:crypto';
import { DigestMismatchError } from '../blobs/chunk-store.js';
import { findRegion, type RegionCatalog } from '../config/catalog.js';
import { credentialMatches } from '../config/region-credential.js';
import { FerryError } from '../domain/errors.js';
import { BatchStreamError } from './chunk-batch.js';

/** Header names of region-to-region calls. */
export const REGION_HEADER = 'x-ferry-region';
export const REGION_SECRET_HEADER = 'x-ferry-region-secret';
export const GRANT_HEADER = 'x-ferry-grant';
/**
 * The ID of the user's request a call serves (a replication's `request_id`): the region that receives the call
 * logs it as the call's own request ID, so one ID finds a replication's lines in every region's log.
 */
export const REQUEST_ID_HEADER = 'x-ferry-request-id';

/** The headers that carry `requestId` to another region; none for work no user request started. */
export function requestIdHeaders(requestId: string | null | undefined): Record<string, string> {
  return requestId ? { [REQUEST_ID_HEADER]: requestId } : {};
}

/** Compares two secrets in constant time. */
export function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * The calling region, named by REGION_HEADER, if the credential in REGION_SECRET_HEADER hashes to one of
 * the hashes the catalog lists for that region (`credential_sha256`); else undefined. Another region's
 * credential does not do: it is checked against the named region's list only.
 */
export function verifyRegion(catalog: RegionCatalog, name: unknown, secret: unknown): string | undefined {
  const region = typeof name === 'string' ? findRegion(catalog, name) : undefined;
  if (region === undefined || !credentialMatches(region.credential_sha256 ?? [], secret)) return undefined;
  return region.name;
}

/** As verifyRegion, throwing UNAUTHORIZED where it answers undefined. */
export function authenticateRegion(catalog: RegionCatalog, name: unknown, secret: unknown): string {
  const region = verifyRegion(catalog, name, secret);
  if (region === undefined) {
    throw new FerryError(
      'UNAUTHORIZED',
      "Region-to-region calls need the calling region's credential, as the catalog lists it.",
    );
  }
  return region;
}

/** A failed call to another region. `transient` errors may succeed when retried. */
export class RegionCallError extends Error {
  constructor(
    message: string,
    readonly transient: boolean,
    readonly status?: number,
    readonly code?: string,
  ) {
    super(message);
    this.name = 'RegionCallError';
  }
}

/** Per-call time limit (default: 30 s): a stalled peer fails the call, which is then retried. */
export const REGION_CALL_TIMEOUT_MS = 30_000;

/** The error for a non-2xx answer of another region: its Ferry error code and message when it sent one. */
export function regionCallFailure(region: string, status: number, data: Buffer): RegionCallError {
  let code: string | undefined;
  let message = `${region} answered ${status}`;
  try {
    const parsed = JSON.parse(data.toString('utf8')) as { error?: { code?: string; message?: string } };
    code = parsed.error?.code;
    if (parsed.error?.message) message = parsed.error.message;
  } catch {
    // Not a Ferry error body.
  }
  return new RegionCallError(message, status >= 500 || status === 429, status, code);
}

/**
 * Whether a failed fetch from another region may succeed if tried again: a transient call error, a chunk
 * stream that broke or carried the wrong bytes, or a chunk that did not hash to its digest. The one rule
 * every fetch retries by.
 */
export function isTransient(error: unknown): boolean {
  if (error instanceof RegionCallError) return error.transient;
  return error instanceof BatchStreamError || error instanceof DigestMismatchError;
}
