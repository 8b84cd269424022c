/**
 * Reading an image's data (Glance's `GET /v2/images/{id}/file`), or a whole-server image's disk's, whole or one
 * byte range: which chunks hold it, held in the store while they are sent. The route writes them to the socket
 * (blobs/read.ts).
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

/** Data being read: its pieces, the range read, and the hold on its chunks. */
export interface DataRead extends ImageRangePieces {
  /** The data's whole size in bytes. */
  size: number;
  /** The range read; undefined: the whole data. */
  range: ImageRange | undefined;
  /** Holds the chunks of `pieces` against garbage collection: release it once the last byte is sent. */
  hold: ChunkHold;
}

export interface ImageRead extends DataRead {
  image: ImageRecord & { size: number };
}

/**
 * The data a manifest describes, or the range of it `rangeOf` reads against its size (undefined: the whole;
 * it throws for a range outside).
 */
export async function openDataRead(
  ctx: RegionContext,
  manifestDigest: Digest,
  rangeOf: (size: number) => ImageRange | undefined,
): Promise<DataRead> {
  // Cached and indexed, not parsed: a client reading the data in ranges costs one manifest read in all.
  const manifest = await ctx.manifests.get(manifestDigest);
  const range = rangeOf(manifest.size);
  const read = imagePieces(manifest, range);
  // The chunks of the range are held while they are sent: an image deleted meanwhile keeps its data until
  // the download ends. Only those: a range read costs its own chunks, not the whole image's.
  const hold = ctx.chunks.hold();
  for (const digest of read.digests) hold.add(digest);
  return { ...read, size: manifest.size, range, hold };
}

/**
 * The image's data the caller may read, or undefined for an image without data (Glance answers 204). A
 * whole-server image's data is its disks' (read each with images/whole-server.ts): it is refused here, as IMS
 * refuses to export one.
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
  if (image.image_type === 'full-server') {
    throw new FerryError(
      'WHOLE_SERVER_IMAGE',
      `Image ${image.id} is a whole-server image: download its disks (GET /v1/cloudimages/${image.id}/disks).`,
    );
  }
  const hasData = image.status === 'active' || image.status === 'deactivated'; // admins read the latter
  if (!hasData || image.manifest_digest === null || image.size === null) return undefined;
  const read = await openDataRead(ctx, image.manifest_digest as Digest, rangeOf);
  return { ...read, image: { ...image, size: image.size } };
}
