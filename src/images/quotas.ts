/**
 * What one image and one project may hold, as Glance's quotas: tags (`image_tag_quota`, 128), free-form
 * properties (`image_property_quota`, 128), the bytes of all that metadata together, and images per project
 * (the region's `limits.maxImagesPerProject`). Checked wherever an image is made or its metadata grows:
 * create, patch, tag, in-region copy, replica and whole-server image. Over a quota is 413 LIMIT_EXCEEDED, as
 * Glance answers.
 * @module
 */
import { FerryError } from '../domain/errors.js';
import type { RegionContext } from '../region/context.js';
import { countOwnedImages } from '../store/images.js';

/** Glance's default image tag limit (image_tag_quota). */
export const MAX_TAGS = 128;
/** Glance's default free-form property limit (image_property_quota). */
export const MAX_PROPERTIES = 128;
/**
 * The UTF-8 bytes of an image's free-form property names and values and its tags together. Each list is
 * bounded by its count already; this bounds what one image view (and every copy made of it) weighs.
 */
export const MAX_METADATA_BYTES = 64 * 1024;

/** Refuses a tag list over the quota (repeated tags count once). */
export function assertTagQuota(tags: readonly string[]): void {
  if (new Set(tags).size > MAX_TAGS) throw new FerryError('LIMIT_EXCEEDED', `At most ${MAX_TAGS} tags.`);
}

/** Refuses metadata over the property count or the byte quota. */
export function assertMetadataQuota(
  properties: Readonly<Record<string, string>>,
  tags: readonly string[],
): void {
  assertTagQuota(tags);
  const names = Object.keys(properties);
  if (names.length > MAX_PROPERTIES) {
    throw new FerryError(
      'LIMIT_EXCEEDED',
      `An image may carry at most ${MAX_PROPERTIES} properties of its own (this one would have ${names.length}).`,
    );
  }
  const bytes =
    names.reduce((sum, name) => sum + Buffer.byteLength(name) + Buffer.byteLength(properties[name]!), 0) +
    [...new Set(tags)].reduce((sum, tag) => sum + Buffer.byteLength(tag), 0);
  if (bytes > MAX_METADATA_BYTES) {
    throw new FerryError(
      'LIMIT_EXCEEDED',
      `An image's properties and tags may take at most ${MAX_METADATA_BYTES} bytes (these take ${bytes}).`,
    );
  }
}

/** Refuses a new image of `owner` with this metadata once the project holds its quota of images. */
export async function assertNewImageFits(
  ctx: RegionContext,
  owner: string,
  properties: Readonly<Record<string, string>>,
  tags: readonly string[],
): Promise<void> {
  assertMetadataQuota(properties, tags);
  const max = ctx.limits.maxImagesPerProject;
  if ((await countOwnedImages(ctx.db, owner)) >= max) {
    throw new FerryError(
      'LIMIT_EXCEEDED',
      `Project ${owner} holds ${max} images in ${ctx.region}, its quota: delete some first.`,
    );
  }
}
