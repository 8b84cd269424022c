/**
 * The metadata database's tables as Kysely sees them. Portable types only, so one schema serves SQLite and
 * PostgreSQL: flags are integers 0/1, timestamps are ISO-8601 UTC strings (they sort as text), sizes are
 * 64-bit integers read back as JavaScript numbers (exact up to 8 PiB).
 * @module
 */
import type { Generated } from 'kysely';
import type { JobRole, JobStatus } from '../domain/job.js';

export interface AccountsTable {
  id: string;
  name: string;
  created_at: string;
}

export interface UsersTable {
  id: string;
  account_id: string;
  name: string;
  /** 1 = region administrator: may see and act on every account's resources. */
  is_admin: number;
  created_at: string;
  /** 0 = disabled by an administrator: the user's tokens are refused (migrations/0016-identity-deliveries.ts). */
  enabled: number;
  /** When `enabled` last changed, in the clock of the region that changed it (null: never changed). */
  enabled_changed_at: string | null;
}

/** An account's project in one region. Glance's `owner` of an image is the project id. */
export interface ProjectsTable {
  id: string;
  account_id: string;
  region: string;
  name: string;
  created_at: string;
}

export interface TokensTable {
  id: string;
  user_id: string;
  /** The project the token acts in, in this region. */
  project_id: string;
  /** SHA-256 of the secret; the secret itself is shown once and never stored. */
  secret_hash: string;
  description: string;
  created_at: string;
  expires_at: string;
  revoked_at: string | null;
  /** The secret hash of the token that made this one (null if an administrator or provisioning issued it). */
  parent_hash: string | null;
}

/** A delegation an account grants to the image service (used by cross-region replication). */
export interface AgenciesTable {
  id: string;
  account_id: string;
  name: string;
  created_at: string;
}

/** One policy an agency holds in one region, e.g. CrossCopyAgencyPolicy in south-1. */
export interface AgencyPoliciesTable {
  agency_id: string;
  region: string;
  policy: string;
}

export interface ImagesTable {
  id: string;
  /** Owning project (Glance `owner`). */
  owner: string;
  name: string | null;
  status: string;
  visibility: string;
  disk_format: string | null;
  container_format: string | null;
  /** Bytes of image data, null until uploaded. */
  size: number | null;
  virtual_size: number | null;
  /** MD5 hex of the data (Glance `checksum`). */
  checksum: string | null;
  os_hash_algo: string | null;
  os_hash_value: string | null;
  /** SHA-256 of the stored manifest; null until the data is stored. */
  manifest_digest: string | null;
  min_disk: number;
  min_ram: number;
  protected: number;
  os_hidden: number;
  image_type: string;
  /** KMS key id when the image is encrypted; null otherwise. */
  cmk_id: string | null;
  /** 1 when an administrator froze the image (arrears, legal hold): no change, share or replication. */
  frozen: number;
  created_at: string;
  updated_at: string;
  /** Where a replicated image came from (null for uploads). */
  source_region: string | null;
  source_image_id: string | null;
  /** The job that created this image by replication or copy. */
  replication_job_id: string | null;
}

export interface ImageTagsTable {
  image_id: string;
  tag: string;
}

/** Free-form string properties (Glance's additionalProperties), e.g. os_distro. */
export interface ImagePropertiesTable {
  image_id: string;
  name: string;
  value: string;
}

/** An image that was deleted: its ID is never issued again (migrations/0003-deleted-images.ts). */
export interface DeletedImagesTable {
  id: string;
  owner: string;
  deleted_at: string;
}

export interface ImageMembersTable {
  image_id: string;
  /** The project the image is shared with. */
  member_id: string;
  status: string;
  created_at: string;
  updated_at: string;
  /** The member's vault for a whole-server image it accepted (null otherwise). */
  vault_id: string | null;
}

/**
 * A replication or copy job. A cross-region job has two rows with the same id: the source region's
 * (`role = source`: what the user asked for, the grant, the lock on the source image) and the destination
 * region's (`role = destination`: the work a destination worker claims, with its progress). An in-region copy
 * has one row (`role = local`).
 */
export interface JobsTable {
  id: string;
  /** imsCrossRegionCopyImageJob or imsCopyImageInRegionJob. */
  job_type: string;
  role: JobRole;
  /** INIT, RUNNING, SUCCESS, FAIL or CANCELLED (domain/job.ts). */
  status: JobStatus;
  account_id: string;
  user_id: string;
  source_region: string;
  source_image_id: string;
  source_image_name: string | null;
  dest_region: string;
  dest_project_id: string | null;
  /** The caller's project: jobs are seen within it (null: from before migration 0007, seen account-wide). */
  project_id: string | null;
  /** The new image, once the destination created it. */
  dest_image_id: string | null;
  /** Name of the new image. */
  image_name: string;
  description: string;
  agency_name: string | null;
  vault_id: string | null;
  cmk_id: string | null;
  /** The source image's manifest: what the destination must end up with. */
  manifest_digest: string | null;
  /** Image size in bytes. */
  bytes_total: number;
  /** Bytes fetched from the source and stored (verified). */
  bytes_transferred: number;
  /** Bytes of chunks the destination already had. */
  bytes_skipped_present: number;
  /** Bytes of all-zero chunks, never sent. */
  bytes_skipped_zero: number;
  /** Recent transfer rate. */
  bytes_per_second: number;
  /** Optional cap in bytes per second for this job. */
  bandwidth_limit: number | null;
  /** What the job is doing now, e.g. ReplicateImageTask:FetchChunks. */
  current_task: string;
  error_code: string | null;
  fail_reason: string | null;
  /** Destination only: the secret of the source's grant for this job. */
  grant_secret: string | null;
  /** Runs started so far. */
  attempts: number;
  /** After this many failed runs the job ends FAIL (default: 5). */
  max_attempts: number;
  /** Not to be claimed before this time (backoff after a failed run). */
  run_at: string;
  /** The worker holding the lease, or null. */
  locked_by: string | null;
  /** The lease ends at this time; an expired lease may be taken over. */
  lease_until: string | null;
  /** 1 once a cancel was asked for; the worker stops at its next check. */
  cancel_requested: number;
  begin_time: string;
  end_time: string | null;
  updated_at: string;
  /** Projects of the destination region the replica is shared with once active: a JSON array, or null. */
  share_with: string | null;
  /** A whole-server image's disks (a JSON array of ReplicaDisk, replication/peer-api.ts); null for one disk. */
  disks: string | null;
  /** Source rows: the replication call that started the job, shared by the jobs it started (null: before 0015). */
  request_id: string | null;
}

/** The right a source region gave a destination to read one image's manifest and chunks, for one job. */
export interface GrantsTable {
  job_id: string;
  secret_hash: string;
  image_id: string;
  manifest_digest: string;
  account_id: string;
  dest_region: string;
  expires_at: string;
  revoked_at: string | null;
  /** A whole-server image's disk manifests, a JSON array of digests (then `manifest_digest` is the first). */
  disk_manifests: string | null;
}

/** Bytes sent from one region to another for one account, per UTC day (billing). */
export interface TransferUsageTable {
  account_id: string;
  source_region: string;
  dest_region: string;
  day: string;
  bytes: number;
}

/** An upload in progress and when it last showed it is alive (migrations/0004-upload-heartbeats.ts). */
export interface UploadHeartbeatsTable {
  image_id: string;
  alive_at: string;
}

/** A chunk of this region an account holds (migrations/0006-account-chunks.ts; store/account-chunks.ts). */
export interface AccountChunksTable {
  account_id: string;
  digest: string;
}

/** A request submitted with a client token (migrations/0010-client-requests.ts; store/client-requests.ts). */
export interface ClientRequestsTable {
  account_id: string;
  client_token: string;
  request_hash: string;
  answer: string | null;
  created_at: string;
}

/** An account's image storage on one day (migrations/0011-storage-usage.ts; store/storage-usage.ts). */
export interface StorageUsageTable {
  account_id: string;
  day: string;
  image_bytes: number;
  /** The account's backups in vaults here (whole-server images' disks). */
  vault_bytes: number;
}

/** What happened to a replication (migrations/0013-events.ts; store/events.ts). */
export interface EventsTable {
  id: string;
  account_id: string;
  type: string;
  job_id: string;
  image_id: string;
  details: string;
  created_at: string;
  rank: number;
  /** The replication call the event belongs to (its jobs' events and its own); null before migration 0015. */
  request_id: string | null;
}

export interface WebhooksTable {
  id: string;
  account_id: string;
  url: string;
  secret: string;
  created_at: string;
}

export interface WebhookDeliveriesTable {
  webhook_id: string;
  event_id: string;
  status: string;
  attempts: number;
  next_at: string;
  last_status: number | null;
  last_error: string | null;
  updated_at: string;
}

/** A project's store of server backups in this region (migrations/0014-vaults.ts; store/vaults.ts). */
export interface VaultsTable {
  id: string;
  account_id: string;
  project_id: string;
  name: string;
  /** `backup`: whole-server images are made here; `replication`: replicated ones arrive here. */
  protection_type: string;
  capacity_bytes: number;
  created_at: string;
}

/** One disk of a whole-server image, kept in a vault; its data is a manifest like an image's. */
export interface BackupsTable {
  id: string;
  vault_id: string;
  image_id: string;
  /** 0: the system disk; 1..: the data disks, in order. */
  disk_index: number;
  /** `available`, or `creating` while a replication brings its data. */
  status: string;
  disk_format: string;
  size: number;
  virtual_size: number | null;
  checksum: string | null;
  os_hash_algo: string | null;
  os_hash_value: string | null;
  manifest_digest: string;
  created_at: string;
}

/** The identity kinds of change a region sends to the others (replication/identity-deliveries.ts). */
export type IdentityChangeKind = 'token_revoked' | 'user_tokens_revoked' | 'user_disabled' | 'user_enabled';

/**
 * An identity change another region has not acknowledged yet (migrations/0016-identity-deliveries.ts;
 * store/identity-deliveries.ts).
 */
export interface IdentityDeliveriesTable {
  id: string;
  /** The region that must learn the change. */
  region: string;
  kind: IdentityChangeKind;
  user_id: string;
  /** token_revoked: the token's secret hash (the same in every region); null otherwise. */
  secret_hash: string | null;
  /** When the change was made in this region (ISO 8601). */
  changed_at: string;
  /** Deliveries tried so far. */
  attempts: number;
  /** Not sent before this time (backoff after a failure). */
  next_at: string;
  last_error: string | null;
  created_at: string;
}

export interface FerryDatabase {
  vaults: VaultsTable;
  backups: BackupsTable;
  jobs: JobsTable;
  grants: GrantsTable;
  transfer_usage: TransferUsageTable;
  accounts: AccountsTable;
  users: UsersTable;
  projects: ProjectsTable;
  tokens: TokensTable;
  agencies: AgenciesTable;
  agency_policies: AgencyPoliciesTable;
  images: ImagesTable;
  image_tags: ImageTagsTable;
  image_properties: ImagePropertiesTable;
  image_members: ImageMembersTable;
  deleted_images: DeletedImagesTable;
  upload_heartbeats: UploadHeartbeatsTable;
  account_chunks: AccountChunksTable;
  client_requests: ClientRequestsTable;
  storage_usage: StorageUsageTable;
  events: EventsTable;
  webhooks: WebhooksTable;
  webhook_deliveries: WebhookDeliveriesTable;
  identity_deliveries: IdentityDeliveriesTable;
}

export type { Generated };
