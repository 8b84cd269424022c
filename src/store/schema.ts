/**
 * The metadata database's tables as Kysely sees them. Portable types only, so one schema serves SQLite and
 * PostgreSQL: flags are integers 0/1, timestamps are ISO-8601 UTC strings (they sort as text), sizes are
 * 64-bit integers read back as JavaScript numbers (exact up to 8 PiB).
 * @module
 */
import type { Generated } from 'kysely';

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

export interface ImageMembersTable {
  image_id: string;
  /** The project the image is shared with. */
  member_id: string;
  status: string;
  created_at: string;
  updated_at: string;
}

export interface FerryDatabase {
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
}

export type { Generated };
