/**
 * An image's tags (Glance's `PUT`/`DELETE /v2/images/{id}/tags/{tag}`), with Glance's quota.
 * @module
 */
import { FerryError } from '../domain/errors.js';
import { assertNoControlCharacters, MAX_NAME_LENGTH } from '../domain/image.js';
import type { Principal } from '../identity/tokens.js';
import { timestamp } from '../store/clock.js';
import { addTag, countTags, removeTag } from '../store/images.js';
import type { RegionContext } from '../region/context.js';
import { loadChangeableImage } from './access.js';
import { MAX_TAGS, assertMetadataQuota } from './quotas.js';

/** Adds the tag to the image (nothing to do if it has it) or removes it (NOT_FOUND if it has not). */
export async function setImageTag(
  ctx: RegionContext,
  principal: Principal,
  id: string,
  tag: string,
  present: boolean,
): Promise<void> {
  const image = await loadChangeableImage(ctx, principal, id);
  const now = timestamp(ctx.clock);
  if (!present) {
    if (!(await removeTag(ctx.db, image.id, tag, now))) {
      throw new FerryError('NOT_FOUND', `Image ${image.id} has no tag ${tag}.`);
    }
    return;
  }
  if (tag.length === 0 || tag.length > MAX_NAME_LENGTH) {
    throw new FerryError('VALIDATION_FAILED', `Tags must be 1 to ${MAX_NAME_LENGTH} characters long.`);
  }
  assertNoControlCharacters('A tag', tag);
  if (!image.tags.includes(tag) && (await countTags(ctx.db, image.id)) >= MAX_TAGS) {
    throw new FerryError('LIMIT_EXCEEDED', `An image may carry at most ${MAX_TAGS} tags.`);
  }
  if (!image.tags.includes(tag)) assertMetadataQuota(image.properties, [...image.tags, tag]);
  await addTag(ctx.db, image.id, tag, now);
}
