/**
 * What every copy job records of its origin, cross-region or in-region alike: who asked (account, project,
 * user), and the image it copies as it was when asked (its region, ID, name, manifest and size).
 * @module
 */
import type { Principal } from '../identity/tokens.js';
import type { ImageRecord } from '../store/images.js';
import type { JobRow } from '../store/jobs.js';
import type { RegionContext } from '../region/context.js';

export type JobOrigin = Pick<
  JobRow,
  | 'account_id'
  | 'project_id'
  | 'user_id'
  | 'source_region'
  | 'source_image_id'
  | 'source_image_name'
  | 'manifest_digest'
  | 'bytes_total'
>;

export function jobOrigin(ctx: RegionContext, principal: Principal, image: ImageRecord): JobOrigin {
  return {
    account_id: principal.accountId,
    project_id: principal.projectId,
    user_id: principal.userId,
    source_region: ctx.region,
    source_image_id: image.id,
    source_image_name: image.name,
    manifest_digest: image.manifest_digest,
    bytes_total: image.size ?? 0,
  };
}
