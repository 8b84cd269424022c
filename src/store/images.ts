/**
 * Image rows with their tags and properties, one function per query. Lists (and the access rules they apply)
 * are in `image-list.ts`; the caller checks single images with `images/access.ts`.
 * @module
 */
import type { Digest } from '../domain/ids.js';
import { canTransition, type ImageStatus } from '../domain/image.js';
import type { Db } from './db.js';
import type { ImagesTable } from './schema.js';

export type ImageRow = ImagesTable;

export interface ImageRecord extends ImageRow {
  tags: string[];
  properties: Record<string, string>;
}

/** What every new image must be told; everything else starts empty (no data, not shared, not a replica). */
export type NewImage = Pick<ImageRow, 'id' | 'owner' | 'status' | 'visibility' | 'image_type'> &
  Partial<ImageRow>;

/** A new image row stamped `now`. */
export function newImageRow(image: NewImage, now: string): ImageRow {
  return {
    name: null,
    disk_format: null,
    container_format: null,
    size: null,
    virtual_size: null,
    checksum: null,
    os_hash_algo: null,
    os_hash_value: null,
    manifest_digest: null,
    min_disk: 0,
    min_ram: 0,
    protected: 0,
    os_hidden: 0,
    cmk_id: null,
    frozen: 0,
    created_at: now,
    updated_at: now,
    source_region: null,
    source_image_id: null,
    replication_job_id: null,
    ...image,
  };
}

export async function insertImage(
  db: Db,
  row: ImageRow,
  tags: string[],
  properties: Record<string, string>,
): Promise<ImageRecord> {
  await db.transaction().execute(async (tx) => {
    await tx.insertInto('images').values(row).execute();
    if (tags.length > 0) {
      await tx
        .insertInto('image_tags')
        .values([...new Set(tags)].map((tag) => ({ image_id: row.id, tag })))
        .execute();
    }
    const entries = Object.entries(properties);
    if (entries.length > 0) {
      await tx
        .insertInto('image_properties')
        .values(entries.map(([name, value]) => ({ image_id: row.id, name, value })))
        .execute();
    }
  });
  return { ...row, tags: [...new Set(tags)].sort(), properties };
}

export async function findImage(db: Db, id: string): Promise<ImageRecord | undefined> {
  // IDs are stored in lower case; a UUID's hex digits may come in either (Glance's lookup ignores case too).
  const row = await db.selectFrom('images').selectAll().where('id', '=', id.toLowerCase()).executeTakeFirst();
  if (!row) return undefined;
  const [withExtras] = await attachExtras(db, [row]);
  return withExtras;
}

/** The rows with their tags and properties (two queries whatever the number of rows). */
export async function attachExtras(db: Db, rows: ImageRow[]): Promise<ImageRecord[]> {
  if (rows.length === 0) return [];
  const ids = rows.map((r) => r.id);
  const [tags, properties] = await Promise.all([
    db.selectFrom('image_tags').selectAll().where('image_id', 'in', ids).orderBy('tag').execute(),
    db.selectFrom('image_properties').selectAll().where('image_id', 'in', ids).orderBy('name').execute(),
  ]);
  return rows.map((row) => ({
    ...row,
    tags: tags.filter((t) => t.image_id === row.id).map((t) => t.tag),
    properties: Object.fromEntries(
      properties.filter((p) => p.image_id === row.id).map((p) => [p.name, p.value]),
    ),
  }));
}

/** Column changes plus tag and property edits, applied in one transaction. */
export interface ImageChanges {
  /** Never the status: it changes through transitionImage, as domain/image.ts allows. */
  columns?: Partial<Omit<ImageRow, 'id' | 'created_at' | 'status'>>;
  tags?: string[];
  setProperties?: Record<string, string>;
  removeProperties?: string[];
}

export async function updateImage(
  db: Db,
  id: string,
  changes: ImageChanges,
  updatedAt: string,
): Promise<void> {
  await db.transaction().execute(async (tx) => {
    await tx
      .updateTable('images')
      .set({ ...changes.columns, updated_at: updatedAt })
      .where('id', '=', id)
      .execute();
    if (changes.tags) {
      await tx.deleteFrom('image_tags').where('image_id', '=', id).execute();
      const tags = [...new Set(changes.tags)];
      if (tags.length > 0) {
        await tx
          .insertInto('image_tags')
          .values(tags.map((tag) => ({ image_id: id, tag })))
          .execute();
      }
    }
    for (const name of changes.removeProperties ?? []) {
      await tx.deleteFrom('image_properties').where('image_id', '=', id).where('name', '=', name).execute();
    }
    for (const [name, value] of Object.entries(changes.setProperties ?? {})) {
      await tx.deleteFrom('image_properties').where('image_id', '=', id).where('name', '=', name).execute();
      await tx.insertInto('image_properties').values({ image_id: id, name, value }).execute();
    }
  });
}

/**
 * Moves the image from one status to another only if it is still in `from` (compare-and-set), so two
 * concurrent uploads cannot both start. Returns whether this call made the change.
 */
export async function transitionImage(
  db: Db,
  id: string,
  from: ImageStatus,
  to: ImageStatus,
  updatedAt: string,
  columns: Partial<Omit<ImageRow, 'id' | 'status' | 'created_at' | 'updated_at'>> = {},
): Promise<boolean> {
  // The lifecycle's rules (domain/image.ts) are the only way a status changes.
  if (!canTransition(from, to)) throw new Error(`an image cannot go from ${from} to ${to}`);
  const result = await db
    .updateTable('images')
    .set({ ...columns, status: to, updated_at: updatedAt })
    .where('id', '=', id)
    .where('status', '=', from)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

export async function addTag(db: Db, id: string, tag: string, updatedAt: string): Promise<void> {
  await db.transaction().execute(async (tx) => {
    const present = await tx
      .selectFrom('image_tags')
      .select('tag')
      .where('image_id', '=', id)
      .where('tag', '=', tag)
      .executeTakeFirst();
    if (!present) await tx.insertInto('image_tags').values({ image_id: id, tag }).execute();
    await tx.updateTable('images').set({ updated_at: updatedAt }).where('id', '=', id).execute();
  });
}

/** Removes the tag; returns false if the image did not have it. */
export async function removeTag(db: Db, id: string, tag: string, updatedAt: string): Promise<boolean> {
  return db.transaction().execute(async (tx) => {
    const result = await tx
      .deleteFrom('image_tags')
      .where('image_id', '=', id)
      .where('tag', '=', tag)
      .executeTakeFirst();
    if (Number(result.numDeletedRows) === 0) return false;
    await tx.updateTable('images').set({ updated_at: updatedAt }).where('id', '=', id).execute();
    return true;
  });
}

export async function countTags(db: Db, id: string): Promise<number> {
  const row = await db
    .selectFrom('image_tags')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('image_id', '=', id)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** The images `owner` holds in this region, whatever their status (deleted ones are gone from the table). */
export async function countOwnedImages(db: Db, owner: string): Promise<number> {
  const row = await db
    .selectFrom('images')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('owner', '=', owner)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/**
 * Deletes the image row with its tags, properties and members, and records its ID as deleted so that it is
 * never issued again (see `isImageIdTaken`).
 */
export async function deleteImage(db: Db, id: string, deletedAt: string): Promise<void> {
  await db.transaction().execute(async (tx) => {
    await tx
      .insertInto('deleted_images')
      .columns(['id', 'owner', 'deleted_at'])
      .expression((eb) =>
        eb
          .selectFrom('images')
          .select(['id', 'owner', eb.val(deletedAt).as('deleted_at')])
          .where('id', '=', id),
      )
      .onConflict((oc) => oc.column('id').doNothing())
      .execute();
    await tx.deleteFrom('image_members').where('image_id', '=', id).execute();
    // A whole-server image's disks go with it (their chunks are left to garbage collection).
    await tx.deleteFrom('backups').where('image_id', '=', id).execute();
    await tx.deleteFrom('image_tags').where('image_id', '=', id).execute();
    await tx.deleteFrom('image_properties').where('image_id', '=', id).execute();
    await tx.deleteFrom('images').where('id', '=', id).execute();
  });
}

/** Whether an image has, or ever had, this ID: image IDs are never reused, even after a delete. */
export async function isImageIdTaken(db: Db, id: string): Promise<boolean> {
  const [live, deleted] = await Promise.all([
    db.selectFrom('images').select('id').where('id', '=', id).executeTakeFirst(),
    db.selectFrom('deleted_images').select('id').where('id', '=', id).executeTakeFirst(),
  ]);
  return live !== undefined || deleted !== undefined;
}

/**
 * Rows a background walk (garbage collection, the scrub) reads per query. Then it yields to the event loop:
 * better-sqlite3 runs a query on the main thread, and one read of 100,000 rows blocked it for ~70-230 ms
 * (bench/listing.ts), stalling every request of the region meanwhile.
 */
export const BACKGROUND_PAGE_ROWS = 2000;

/** Lets the event loop run what waits (requests, timers) between two pages of a background walk. */
function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Every manifest digest some image still references (the garbage collector's roots), each once. */
export async function listReferencedManifests(db: Db): Promise<string[]> {
  const digests: string[] = [];
  let after = '';
  for (;;) {
    // In index order (images_manifest), a page of rows at a time. Rows after the last digest seen: those
    // that share it are duplicates, so however many images share one manifest, no page is spent on them.
    const rows = await db
      .selectFrom('images')
      .select('manifest_digest')
      .where('manifest_digest', '>', after)
      .orderBy('manifest_digest')
      .limit(BACKGROUND_PAGE_ROWS)
      .execute();
    for (const { manifest_digest: digest } of rows) {
      if (digest !== null && digest !== digests.at(-1)) digests.push(digest);
    }
    if (rows.length < BACKGROUND_PAGE_ROWS) return digests;
    after = digests.at(-1)!;
    await yieldToEventLoop();
  }
}

/**
 * Every image whose data is complete, with its manifest's digest (the scrub's list of what must be readable).
 * Not a `saving` one: a replica names its source's manifest from the start and holds it only at the end.
 */
export async function listImageManifests(db: Db): Promise<Array<{ id: string; manifestDigest: Digest }>> {
  const images: Array<{ id: string; manifestDigest: Digest }> = [];
  let after = '';
  for (;;) {
    const rows = await db
      .selectFrom('images')
      .select(['id', 'manifest_digest'])
      .where('id', '>', after)
      .where('manifest_digest', 'is not', null)
      .where('status', 'in', ['active', 'deactivated'])
      .orderBy('id')
      .limit(BACKGROUND_PAGE_ROWS)
      .execute();
    for (const row of rows) {
      if (row.manifest_digest !== null)
        images.push({ id: row.id, manifestDigest: row.manifest_digest as Digest });
    }
    if (rows.length < BACKGROUND_PAGE_ROWS) return images;
    after = rows.at(-1)!.id;
    await yieldToEventLoop();
  }
}
