/**
 * Branded identifiers, so an image id can never be passed where a job id or a digest is expected.
 * @module
 */
import { randomUUID } from 'node:crypto';

type Brand<T, B extends string> = T & { readonly __brand: B };

export type ImageId = Brand<string, 'ImageId'>;
export type AccountId = Brand<string, 'AccountId'>;
export type UserId = Brand<string, 'UserId'>;
export type ProjectId = Brand<string, 'ProjectId'>;
export type AgencyId = Brand<string, 'AgencyId'>;
export type TokenId = Brand<string, 'TokenId'>;
/** Lower-case hex SHA-256 of a chunk or manifest. */
export type Digest = Brand<string, 'Digest'>;
export type RegionName = Brand<string, 'RegionName'>;

/** A new random id in the UUID form Glance clients expect (36 characters with dashes). */
export function newUuid<T extends string>(): T {
  return randomUUID() as T;
}

/** A new random id in the 32-hex form IMS uses for accounts, projects and jobs. */
export function newHexId<T extends string>(): T {
  return randomUUID().replaceAll('-', '') as T;
}

const DIGEST_PATTERN = /^[0-9a-f]{64}$/;

export function isDigest(value: string): value is Digest {
  return DIGEST_PATTERN.test(value);
}

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(value: string): boolean {
  return UUID_PATTERN.test(value);
}
