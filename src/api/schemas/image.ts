/**
 * An image and an image member as the Glance v2 API shows them, plus Ferry's fields. The one definition of
 * those shapes: the API builds them (api/image-view.ts), the CLI reads them (cli/images.ts).
 * @module
 */
import { Type, type Static } from 'typebox';
import { JOB_STATUSES } from '../../domain/job.js';
import { nullable, oneOf } from './common.js';

const NullableString = nullable(Type.String());

/** Where a replicated or copied image came from, and while it is being replicated, its progress. */
export const ReplicationOfImage = Type.Object({
  job_id: Type.String(),
  source_region: NullableString,
  source_image_id: NullableString,
  replicating: Type.Boolean(),
  status: Type.Optional(oneOf(JOB_STATUSES)),
  /** Share of the image in place, 0..1. */
  process_percent: Type.Optional(Type.Number()),
});

export const ImageView = Type.Object(
  {
    id: Type.String(),
    name: NullableString,
    status: Type.String(),
    visibility: Type.String(),
    protected: Type.Boolean(),
    os_hidden: Type.Boolean(),
    checksum: NullableString,
    os_hash_algo: NullableString,
    os_hash_value: NullableString,
    owner: Type.String(),
    size: nullable(Type.Integer()),
    virtual_size: nullable(Type.Integer()),
    min_disk: Type.Integer(),
    min_ram: Type.Integer(),
    container_format: NullableString,
    disk_format: NullableString,
    created_at: Type.String(),
    updated_at: Type.String(),
    tags: Type.Array(Type.String()),
    image_type: Type.String(),
    encrypted: Type.Boolean(),
    cmk_id: NullableString,
    frozen: Type.Boolean(),
    replication: nullable(ReplicationOfImage),
    self: Type.String(),
    file: Type.String(),
    schema: Type.String(),
  },
  // Free-form properties stand beside the fields, as in Glance.
  { additionalProperties: Type.String() },
);
export type ImageView = Static<typeof ImageView>;

export const MemberView = Type.Object({
  image_id: Type.String(),
  member_id: Type.String(),
  status: Type.String(),
  created_at: Type.String(),
  updated_at: Type.String(),
  /** The member's vault, for a whole-server image it accepted. */
  vault_id: Type.Optional(Type.String()),
  schema: Type.String(),
});
export type MemberView = Static<typeof MemberView>;
