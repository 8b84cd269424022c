/**
 * The limits a caller meets in this region, as `GET /v1/limits` shows them (routes/limits.ts); the CLI reads
 * the same shape (`ferry limits`).
 * @module
 */
import { Type, type Static } from 'typebox';

export const LimitsView = Type.Object({
  region: Type.String(),
  /** Largest image an upload may store here, bytes. */
  max_image_bytes: Type.Integer(),
  /** Largest image that may be replicated to another region, bytes. */
  max_replication_image_bytes: Type.Integer(),
  /** Replications one user may have running at once, counted across every region. */
  max_running_replications_per_user: Type.Integer(),
  max_members_per_image: Type.Integer(),
  /** A whole-server image is shared with fewer projects (IMS: 10). */
  max_members_per_whole_server_image: Type.Integer(),
  /** Disks of one whole-server image (system disk included). */
  max_disks_per_whole_server_image: Type.Integer(),
  /** A vault's capacity bounds, GiB. */
  vault_size_gib: Type.Object({ min: Type.Integer(), max: Type.Integer() }),
  max_tags_per_image: Type.Integer(),
  /** Free-form properties of one image (Glance's image_property_quota). */
  max_properties_per_image: Type.Integer(),
  /** UTF-8 bytes of one image's property names and values and tags together. */
  max_metadata_bytes_per_image: Type.Integer(),
  /** Images one project may hold in this region. */
  max_images_per_project: Type.Integer(),
  /** Uploads one account may run at once in one region process. */
  max_concurrent_uploads_per_account: Type.Integer(),
  /** How long a client token (`client_token`, `X-Client-Token`) is remembered. */
  client_token_ttl_seconds: Type.Integer(),
});
export type LimitsView = Static<typeof LimitsView>;
