/**
 * Creating an image record (Glance's `POST /v2/images`): an image without data, `queued` until its upload.
 * The route has checked each field's value against the image schema; here are the rules between fields, the
 * owner, the ID and the tag quota.
 * @module
 */
import { FerryError } from '../domain/errors.js';
import { newUuid } from '../domain/ids.js';
import { assertImageFieldsAgree, defaultImageType } from '../domain/image.js';
import type { Principal } from '../identity/tokens.js';
import { timestamp } from '../store/clock.js';
import { findProject } from '../store/identity.js';
import { insertImage, isImageIdTaken, newImageRow, type ImageRecord } from '../store/images.js';
import type { RegionContext } from '../region/context.js';
import { assertNewImageFits } from './quotas.js';

/** The fields of a new image, as the caller gave them (undefined: the default). */
export interface ImageCreation {
  id?: string;
  owner?: string | null;
  name?: string | null;
  visibility?: string;
  disk_format?: string | null;
  container_format?: string | null;
  image_type?: string;
  cmk_id?: string | null;
  min_disk?: number;
  min_ram?: number;
  protected?: boolean;
  os_hidden?: boolean;
  tags?: string[];
  /** Free-form properties. */
  properties: Record<string, string>;
}

/** Only an administrator creates an image for another project, and only for a project of this region. */
async function ownerOf(
  ctx: RegionContext,
  principal: Principal,
  owner: string | null | undefined,
): Promise<string> {
  if (owner === undefined || owner === null || owner === principal.projectId) return principal.projectId;
  if (!principal.isAdmin)
    throw new FerryError('FORBIDDEN', 'You may not create images owned by another project.');
  if (!(await findProject(ctx.db, owner))) {
    throw new FerryError('VALIDATION_FAILED', `Owner ${owner} is not a project of this region.`);
  }
  return owner;
}

export async function createImage(
  ctx: RegionContext,
  principal: Principal,
  fields: ImageCreation,
): Promise<ImageRecord> {
  const id = (fields.id ?? newUuid()).toLowerCase();
  if (await isImageIdTaken(ctx.db, id)) {
    throw new FerryError(
      'DUPLICATE',
      `An image with ID ${fields.id} exists or existed: image IDs are never reused. Leave id out to get a new one.`,
    );
  }
  const owner = await ownerOf(ctx, principal, fields.owner);
  const visibility = fields.visibility ?? 'shared';
  const diskFormat = fields.disk_format ?? null;
  const imageType = fields.image_type ?? defaultImageType(diskFormat);
  const cmkId = fields.cmk_id ?? null;
  assertImageFieldsAgree(
    { image_type: imageType, disk_format: diskFormat, visibility, cmk_id: cmkId },
    principal,
  );
  const tags = fields.tags ?? [];
  await assertNewImageFits(ctx, owner, fields.properties, tags);
  const row = newImageRow(
    {
      id,
      owner,
      status: 'queued',
      visibility,
      name: fields.name ?? null,
      disk_format: diskFormat,
      container_format: fields.container_format ?? null,
      min_disk: fields.min_disk ?? 0,
      min_ram: fields.min_ram ?? 0,
      protected: fields.protected === true ? 1 : 0,
      os_hidden: fields.os_hidden === true ? 1 : 0,
      image_type: imageType,
      cmk_id: cmkId,
    },
    timestamp(ctx.clock),
  );
  return insertImage(ctx.db, row, tags, fields.properties);
}
