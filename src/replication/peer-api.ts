/**
 * The region-to-region API in one place: every call's method and path, and the JSON each side sends, as
 * TypeBox schemas. The caller builds its path here and types its body and answer with these; the server
 * (api/routes/internal.ts) registers the same patterns and validates what arrives with the same schemas, so
 * a peer's bad body is a 400, never a row written from it. Job state travels both ways: the source reads it
 * (`replica`) whenever a user reads the job, and the destination pushes it (`jobState`) when a job ends or is
 * cancelled there, so the source learns an end without waiting for a read.
 * Every call carries the calling region's name and secret (replication/region-call.ts); the chunk and
 * manifest reads carry the job's grant too.
 * @module
 */
import { Type, type Static } from 'typebox';
import { findRegion, hasCredentials } from '../config/catalog.js';
import { MAX_BANDWIDTH_LIMIT, MAX_CHUNKS_PER_REQUEST } from '../config/replication.js';
import { JOB_STATUSES } from '../domain/job.js';
import { nullable, oneOf } from '../lib/schema.js';
import type { RegionClient } from './region-client.js';
import { requestIdHeaders } from './region-call.js';
import type { RegionContext } from '../region/context.js';

/** A call: its method, its route pattern (`:job` for the job's id), and its path for a given job. */
export interface PeerCall {
  readonly method: 'GET' | 'POST';
  readonly pattern: string;
  path(job?: string): string;
}

function call(method: PeerCall['method'], pattern: string): PeerCall {
  return {
    method,
    pattern,
    path: (job) => (job === undefined ? pattern : pattern.replace(':job', encodeURIComponent(job))),
  };
}

/**
 * Makes `peerCall` (for `job`, where its path names one) on `region`, on behalf of the user request
 * `requestId` if one started it; resolves the parsed answer.
 */
export function callPeer<T>(
  client: Pick<RegionClient, 'call'>,
  region: string,
  peerCall: PeerCall,
  options: { job?: string; body?: unknown; requestId?: string | null } = {},
): Promise<T> {
  const headers = requestIdHeaders(options.requestId);
  return client.call<T>(region, peerCall.method, peerCall.path(options.job), options.body, headers);
}

export const PEER_CALLS = {
  /** A token issued in the caller's region, to work here too. */
  copyToken: call('POST', '/internal/v1/tokens'),
  /** A token revoked in the caller's region. */
  revokeToken: call('POST', '/internal/v1/tokens/revoke'),
  /** A user's tokens revoked, or the user disabled or enabled, in the caller's region. */
  identityChange: call('POST', '/internal/v1/identity/changes'),
  /** The source asks the destination for the replica and its job. */
  createReplica: call('POST', '/internal/v1/replicas'),
  /** The source reads the job's state at the destination. */
  replicaState: call('GET', '/internal/v1/replicas/:job'),
  /** The source cancels the job at the destination. */
  cancelReplica: call('POST', '/internal/v1/replicas/:job/cancel'),
  /** The destination tells the source the job's state. */
  jobState: call('POST', '/internal/v1/jobs/:job/state'),
  /** The destination reads the granted image's manifest (bytes); `?disk=N`: a whole-server image's disk N. */
  grantManifest: call('GET', '/internal/v1/grants/:job/manifest'),
  /** The destination reads a batch of the granted image's chunks (their bytes back to back). */
  grantChunks: call('POST', '/internal/v1/grants/:job/chunks'),
  /** How many replications a user has running from the asked region (the limit is per user, all regions). */
  runningJobs: call('POST', '/internal/v1/running-jobs'),
} as const;

const SecretHash = Type.String({ pattern: '^[0-9a-f]{64}$', description: 'a SHA-256, 64 hex digits.' });
const Timestamp = Type.String({ format: 'date-time', description: 'an ISO 8601 time.' });

export const TokenCopy = Type.Object({
  user_id: Type.String(),
  secret_hash: SecretHash,
  description: Type.String(),
  expires_at: Timestamp,
  /** The token the new one was made with: the copy acts in that token's project, and expires with it. */
  parent_secret_hash: Type.Optional(SecretHash),
  /** Else: the project to act in, by name. */
  project_name: Type.Optional(Type.String()),
});
export type TokenCopy = Static<typeof TokenCopy>;

export const TokenRevocation = Type.Object({ user_id: Type.String(), secret_hash: SecretHash });
export type TokenRevocation = Static<typeof TokenRevocation>;

/** Identity changes one region sends the others (replication/identity-deliveries.ts). */
export const USER_CHANGE_KINDS = ['user_tokens_revoked', 'user_disabled', 'user_enabled'] as const;

/**
 * A change to a user made in the caller's region at `changed_at` (its clock): tokens issued up to then are
 * revoked (`user_tokens_revoked`, and `user_disabled` too), and the latest enable or disable wins.
 */
export const UserChange = Type.Object({
  kind: oneOf(USER_CHANGE_KINDS),
  user_id: Type.String({ maxLength: 64 }),
  changed_at: Timestamp,
});
export type UserChange = Static<typeof UserChange>;

export const RunningJobsQuery = Type.Object({ user_id: Type.String({ maxLength: 64 }) });
export type RunningJobsQuery = Static<typeof RunningJobsQuery>;
export const RunningJobs = Type.Object({ running: Type.Integer({ minimum: 0 }) });
export type RunningJobs = Static<typeof RunningJobs>;

/**
 * The other regions of the catalog that take part in region-to-region calls, those the catalog lists a
 * credential for (none if it lists none for this one).
 */
export function peerRegions(ctx: Pick<RegionContext, 'catalog' | 'region'>): string[] {
  if (!hasCredentials(findRegion(ctx.catalog, ctx.region))) return [];
  return ctx.catalog.regions.filter((r) => r.name !== ctx.region && hasCredentials(r)).map((r) => r.name);
}

/** One disk of a whole-server image, as the source sends it and both job rows keep it (`jobs.disks`). */
export const ReplicaDisk = Type.Object({
  disk_index: Type.Integer({ minimum: 0 }),
  disk_format: Type.String({ maxLength: 16 }),
  size: Type.Integer({ minimum: 0 }),
  virtual_size: nullable(Type.Integer({ minimum: 0 })),
  checksum: nullable(Type.String({ maxLength: 32 })),
  os_hash_algo: nullable(Type.String({ maxLength: 16 })),
  os_hash_value: nullable(Type.String({ maxLength: 128 })),
  manifest_digest: SecretHash,
});
export type ReplicaDisk = Static<typeof ReplicaDisk>;

/** A job row's disks (null: a one-disk image). */
export function jobDisks(job: { disks: string | null }): ReplicaDisk[] | null {
  return job.disks === null ? null : (JSON.parse(job.disks) as ReplicaDisk[]);
}

export const GrantManifestQuery = Type.Object({
  disk: Type.Optional(
    Type.String({ pattern: '^(1?[0-9]|2[0-3])$', description: 'a disk index from 0 to 23.' }),
  ),
});
export type GrantManifestQuery = Static<typeof GrantManifestQuery>;

/** What a source region sends to create a replica. */
export const ReplicaRequest = Type.Object({
  job_id: Type.String({ pattern: '^[0-9a-f]{32}$' }),
  /** The user request that started the job (absent from older sources): the destination logs its work under it. */
  request_id: Type.Optional(Type.String({ maxLength: 64 })),
  account_id: Type.String(),
  user_id: Type.String(),
  source_image_id: Type.String(),
  source_image_name: nullable(Type.String()),
  project_name: Type.String(),
  agency_name: Type.String(),
  vault_id: nullable(Type.String()),
  name: Type.String({ minLength: 1 }),
  description: Type.String(),
  grant_secret: Type.String({ minLength: 1 }),
  bandwidth_limit: nullable(Type.Integer({ minimum: 1, maximum: MAX_BANDWIDTH_LIMIT })),
  /** Projects of the destination region to share the replica with once it is active. */
  share_with: Type.Optional(Type.Array(Type.String({ maxLength: 64 }), { maxItems: 128 })),
  image: Type.Object({
    disk_format: nullable(Type.String()),
    container_format: nullable(Type.String()),
    size: Type.Integer({ minimum: 0 }),
    virtual_size: nullable(Type.Integer({ minimum: 0 })),
    checksum: nullable(Type.String()),
    /**
     * The algorithm of `os_hash_value`, kept by the replica as it is: the destination does not hash the
     * image again (see transfer.ts), so its own setting does not apply. Absent from sources older than the
     * setting, which always used sha512.
     */
    os_hash_algo: Type.Optional(nullable(Type.String())),
    os_hash_value: nullable(Type.String()),
    /** Null for a whole-server image: its data is its disks'. */
    manifest_digest: nullable(SecretHash),
    min_disk: Type.Integer({ minimum: 0 }),
    min_ram: Type.Integer({ minimum: 0 }),
    image_type: Type.String(),
    properties: Type.Record(Type.String(), Type.String()),
    tags: Type.Array(Type.String()),
  }),
  /** A whole-server image's disks, system disk first (then `vault_id` names a vault of the destination). */
  disks: Type.Optional(Type.Array(ReplicaDisk, { minItems: 1, maxItems: 24 })),
});
export type ReplicaRequest = Static<typeof ReplicaRequest>;

/** A job's state as regions exchange it. */
export const JobState = Type.Object({
  job_id: Type.String(),
  status: oneOf(JOB_STATUSES),
  dest_image_id: nullable(Type.String()),
  bytes_total: Type.Integer({ minimum: 0 }),
  bytes_transferred: Type.Integer({ minimum: 0 }),
  bytes_skipped_present: Type.Integer({ minimum: 0 }),
  bytes_skipped_zero: Type.Integer({ minimum: 0 }),
  bytes_per_second: Type.Number({ minimum: 0 }),
  current_task: Type.String(),
  error_code: nullable(Type.String()),
  fail_reason: nullable(Type.String()),
  end_time: nullable(Type.String()),
  attempts: Type.Integer({ minimum: 0 }),
});
export type JobState = Static<typeof JobState>;

/** A batch of chunks asked for: digests of the granted manifest, and the job's bandwidth cap. */
export const ChunkBatchRequest = Type.Object({
  digests: Type.Array(SecretHash, {
    minItems: 1,
    maxItems: MAX_CHUNKS_PER_REQUEST,
    description: `1 to ${MAX_CHUNKS_PER_REQUEST} SHA-256 digests of the granted image.`,
  }),
  bytes_per_second: Type.Optional(
    nullable(
      Type.Integer({
        minimum: 1024,
        maximum: MAX_BANDWIDTH_LIMIT,
        description: `an integer from 1024 to ${MAX_BANDWIDTH_LIMIT}, or null.`,
      }),
    ),
  ),
});
export type ChunkBatchRequest = Static<typeof ChunkBatchRequest>;
