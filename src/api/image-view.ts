/**
 * An image as the Glance v2 API shows it: Glance's fields and free-form properties at the top level, plus
 * Ferry's own (`image_type`, `encrypted`, `cmk_id`, `frozen`). The shape: api/schemas/image.ts.
 * @module
 */
import type { ImageRecord } from '../store/images.js';
import type { MemberRow } from '../store/members.js';
import { progressOf, type JobRow } from '../store/jobs.js';
import { processPercent } from '../domain/job.js';
import type { ImageView, MemberView } from './schemas/image.js';

/** Glance prints timestamps to the second: 2026-11-23T18:44:08Z. */
export function glanceTime(iso: string): string {
  return iso.replace(/\.\d+Z$/, 'Z');
}

/**
 * Where a replicated or copied image came from, and while it is being replicated its progress (the
 * console shows it as "Replicating").
 */
function replicationView(image: ImageRecord, job: JobRow | undefined): ImageView['replication'] {
  if (image.replication_job_id === null) return null;
  return {
    job_id: image.replication_job_id,
    source_region: image.source_region,
    source_image_id: image.source_image_id,
    replicating: image.status === 'saving',
    ...(job
      ? {
          status: job.status,
          process_percent: processPercent(progressOf(job), job.status),
        }
      : {}),
  };
}

export function imageView(image: ImageRecord, job?: JobRow): ImageView {
  return {
    ...image.properties,
    id: image.id,
    name: image.name,
    status: image.status,
    visibility: image.visibility,
    protected: image.protected === 1,
    os_hidden: image.os_hidden === 1,
    checksum: image.checksum,
    // Stored per image: the region's setting when it was uploaded, or its source's for a replica.
    os_hash_algo: image.os_hash_algo,
    os_hash_value: image.os_hash_value,
    owner: image.owner,
    size: image.size,
    virtual_size: image.virtual_size,
    min_disk: image.min_disk,
    min_ram: image.min_ram,
    container_format: image.container_format,
    disk_format: image.disk_format,
    created_at: glanceTime(image.created_at),
    updated_at: glanceTime(image.updated_at),
    tags: image.tags,
    image_type: image.image_type,
    encrypted: image.cmk_id !== null,
    cmk_id: image.cmk_id,
    frozen: image.frozen === 1,
    replication: replicationView(image, job),
    self: `/v2/images/${image.id}`,
    file: `/v2/images/${image.id}/file`,
    schema: '/v2/schemas/image',
  };
}

export function memberView(member: MemberRow): MemberView {
  return {
    image_id: member.image_id,
    member_id: member.member_id,
    status: member.status,
    created_at: glanceTime(member.created_at),
    updated_at: glanceTime(member.updated_at),
    // IMS's extension, only where it applies: the vault a member accepted a whole-server image with.
    ...(member.vault_id ? { vault_id: member.vault_id } : {}),
    schema: '/v2/schemas/member',
  };
}
