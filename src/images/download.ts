/**
 * Reading an image's data (Glance's `GET /v2/images/{id}/file`), whole or one byte range: which chunks hold
 * it, held in the store while they are sent. The route writes them to the socket (blobs/read.ts).
 * @module
 */
import type { ChunkHold } from '../blobs/chunk-store.js';
import { imagePieces, type ImageRange, type ImageRangePieces } from '../blobs/read.js';
import { FerryError } from '../domain/errors.js';
import type { Digest } from '../domain/ids.js';
import type { Principal } from '../identity/tokens.js';
import type { ImageRecord } from '../store/images.js';
import type { RegionContext } from '../region/context.js';
import { loadVisibleImage } from './access.js';

export interface ImageRead extends ImageRangePieces {
  image: ImageRecord & { size: number };
  /** The range read; undefined: the whole image. */
  range: ImageRange | undefined;
  /** Holds the chunks of `pieces` against garbage collection: release it once the last byte is sent. */
  hold: ChunkHold;
}

/**
 * The image's data the caller may read, or undefined for an image without data (Glance answers 204).
 * `rangeOf` reads the caller's range against the image's size (undefined: the whole image); it throws for a
 * range outside the image.
 */
export async function openImageRead(
  ctx: RegionContext,
  principal: Principal,
  id: string,
  rangeOf: (size: number) => ImageRange | undefined,
): Promise<ImageRead | undefined> {
  const image = await loadVisibleImage(ctx, principal, id);
  if (image.status === 'deactivated' && !principal.isAdmin) {
    throw new FerryError('FORBIDDEN', `Image ${image.id} is deactivated: its data cannot be downloaded.`);
  }
  const hasData = image.status === 'active' || image.status === 'deactivated'; // admins read the latter
  if (!hasData || image.manifest_digest === null || image.size === null) return undefined;
  // Cached and indexed, not parsed: a client reading the image in ranges costs one manifest read in all.
  const manifest = await ctx.manifests.get(image.manifest_digest as Digest);
  const range = rangeOf(image.size);
  const read = imagePieces(manifest, range);
  // The chunks of the range are held while they are sent: an image deleted meanwhile keeps its data until
  // the download ends. Only those: a range read costs its own chunks, not the whole image's.
  const hold = ctx.chunks.hold();
  for (const digest of read.digests) hold.add(digest);
  return { ...read, image: { ...image, size: image.size }, range, hold };
}
