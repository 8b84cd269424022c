/**
 * Image rows with their tags and properties, one function per query. Access rules (who may see what) are
 * applied in `listImages` for lists; the caller checks single images with `domain/access.ts`.
 * @module
 */
import { sql, type Expression, type ExpressionBuilder, type SqlBool } from 'kysely';
import type { Digest } from '../domain/ids.js';
import type { Db } from './db.js';
import type { FerryDatabase, ImagesTable } from './schema.js';

export type ImageRow = ImagesTable;

export interface ImageRecord extends ImageRow {
  tags: string[];
  properties: Record<string, string>;
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

async function attachExtras(db: Db, rows: ImageRow[]): Promise<ImageRecord[]> {
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

/** Columns a list may sort by (Glance's sort keys). */
export const SORT_KEYS = [
  'name',
  'status',
  'container_format',
  'disk_format',
  'size',
  'virtual_size',
  'id',
  'created_at',
  'updated_at',
  'visibility',
  'owner',
  'min_disk',
  'min_ram',
] as const;
export type SortKey = (typeof SORT_KEYS)[number];

export interface SortSpec {
  key: SortKey;
  dir: 'asc' | 'desc';
}

/** Who is asking: lists show what this project may see. */
export interface Viewer {
  projectId: string;
  isAdmin: boolean;
}

/** A comparison of a timestamp column with an instant (Glance's `created_at=gt:...`), to the second. */
export interface TimeFilter {
  op: '<' | '<=' | '>' | '>=' | '=' | '<>';
  /** `YYYY-MM-DDTHH:MM:SS`, UTC. */
  at: string;
}

export interface ImageFilters {
  /** Each of these filters matches any of its values (Glance's `in:` operator; a plain value is a list of one). */
  ids?: string[];
  names?: string[];
  statuses?: string[];
  diskFormats?: string[];
  containerFormats?: string[];
  /** Glance's visibility filter; undefined = the default list (own, public, shared-with-me accepted). */
  visibility?: string;
  owner?: string;
  tags?: string[];
  /** For images shared with the viewer: pending, accepted (default), rejected or all. */
  memberStatus?: string;
  sizeMin?: number;
  sizeMax?: number;
  protected?: boolean;
  osHidden?: boolean;
  imageType?: string;
  createdAt?: TimeFilter;
  updatedAt?: TimeFilter;
  /** Exact matches on core columns (Glance filters every image column this way). */
  columns?: ExactColumnFilters;
  properties?: Record<string, string>;
}

/** The core columns a list filters on by exact value, besides those with filters of their own. */
export const EXACT_TEXT_COLUMNS = ['checksum', 'os_hash_algo', 'os_hash_value'] as const;
export const EXACT_INTEGER_COLUMNS = ['size', 'virtual_size', 'min_disk', 'min_ram'] as const;
export type ExactColumnFilters = Partial<
  Record<(typeof EXACT_TEXT_COLUMNS)[number], string> & Record<(typeof EXACT_INTEGER_COLUMNS)[number], number>
>;

export interface ListOptions {
  viewer: Viewer;
  filters: ImageFilters;
  sort: SortSpec[];
  limit: number;
  /** Image id after which the page starts (it must be visible to the viewer). */
  marker?: ImageRow;
}

type Eb = ExpressionBuilder<FerryDatabase, 'images'>;

/**
 * The sort expression of a key. Nullable columns sort as if null were the smallest value, the same on both
 * dialects, which also keeps keyset pagination (marker) exact.
 */
function sortExpression(eb: Eb, key: SortKey): Expression<unknown> {
  switch (key) {
    case 'name':
    case 'disk_format':
    case 'container_format':
      return eb.fn.coalesce(eb.ref(key), sql.lit(''));
    case 'size':
    case 'virtual_size':
      return eb.fn.coalesce(eb.ref(key), sql.lit(-1));
    default:
      return eb.ref(key);
  }
}

function sortValue(row: ImageRow, key: SortKey): string | number {
  const value = row[key];
  if (value === null) return key === 'size' || key === 'virtual_size' ? -1 : '';
  return value;
}

function memberCondition(eb: Eb, projectId: string, status: string): Expression<SqlBool> {
  let members = eb
    .selectFrom('image_members')
    .select('image_members.image_id')
    .whereRef('image_members.image_id', '=', 'images.id')
    .where('image_members.member_id', '=', projectId);
  if (status !== 'all') members = members.where('image_members.status', '=', status);
  return eb.exists(members);
}

function visibilityCondition(eb: Eb, viewer: Viewer, filters: ImageFilters): Expression<SqlBool> {
  const own = eb('images.owner', '=', viewer.projectId);
  const memberStatus = filters.memberStatus ?? 'accepted';
  const sharedWithMe = eb.and([
    eb('images.visibility', '=', 'shared'),
    memberCondition(eb, viewer.projectId, memberStatus),
  ]);
  switch (filters.visibility) {
    case 'public':
      return eb('images.visibility', '=', 'public');
    case 'community':
      return eb('images.visibility', '=', 'community');
    case 'private':
      return viewer.isAdmin
        ? eb('images.visibility', '=', 'private')
        : eb.and([own, eb('images.visibility', '=', 'private')]);
    case 'shared':
      return viewer.isAdmin
        ? eb('images.visibility', '=', 'shared')
        : eb.or([eb.and([own, eb('images.visibility', '=', 'shared')]), sharedWithMe]);
    case 'all':
      return viewer.isAdmin
        ? sql<SqlBool>`1 = 1`
        : eb.or([own, eb('images.visibility', 'in', ['public', 'community']), sharedWithMe]);
    default:
      if (viewer.isAdmin) return eb('images.visibility', '!=', 'community');
      return eb.or([own, eb('images.visibility', '=', 'public'), sharedWithMe]);
  }
}

/** One page of the images the viewer may see, filtered and sorted (ties broken by id). */
export async function listImages(db: Db, options: ListOptions): Promise<ImageRecord[]> {
  const { viewer, filters } = options;
  const sort: SortSpec[] = [...options.sort];
  if (!sort.some((s) => s.key === 'id')) sort.push({ key: 'id', dir: sort.at(-1)?.dir ?? 'desc' });

  let query = db
    .selectFrom('images')
    .selectAll()
    .where((eb) => visibilityCondition(eb, viewer, filters));

  if (filters.ids !== undefined) query = query.where('id', 'in', filters.ids);
  if (filters.names !== undefined) query = query.where('name', 'in', filters.names);
  if (filters.statuses !== undefined) query = query.where('status', 'in', filters.statuses);
  if (filters.owner !== undefined) query = query.where('owner', '=', filters.owner);
  if (filters.diskFormats !== undefined) query = query.where('disk_format', 'in', filters.diskFormats);
  if (filters.containerFormats !== undefined)
    query = query.where('container_format', 'in', filters.containerFormats);
  for (const [column, filter] of [
    ['created_at', filters.createdAt],
    ['updated_at', filters.updatedAt],
  ] as const) {
    // To the second, as the API shows times (2026-11-24T14:12:11Z): stored ones carry milliseconds.
    if (filter !== undefined)
      query = query.where((eb) => eb(eb.fn('substr', [column, eb.lit(1), eb.lit(19)]), filter.op, filter.at));
  }
  if (filters.imageType !== undefined) query = query.where('image_type', '=', filters.imageType);
  for (const [column, value] of Object.entries(filters.columns ?? {}) as Array<
    [keyof ExactColumnFilters, string | number]
  >) {
    query = query.where(column, '=', value);
  }
  if (filters.sizeMin !== undefined) query = query.where('size', '>=', filters.sizeMin);
  if (filters.sizeMax !== undefined) query = query.where('size', '<=', filters.sizeMax);
  if (filters.protected !== undefined) query = query.where('protected', '=', filters.protected ? 1 : 0);
  query = query.where('os_hidden', '=', filters.osHidden ? 1 : 0);
  for (const tag of filters.tags ?? []) {
    query = query.where((eb) =>
      eb.exists(
        eb
          .selectFrom('image_tags')
          .select('image_tags.image_id')
          .whereRef('image_tags.image_id', '=', 'images.id')
          .where('image_tags.tag', '=', tag),
      ),
    );
  }
  for (const [name, value] of Object.entries(filters.properties ?? {})) {
    query = query.where((eb) =>
      eb.exists(
        eb
          .selectFrom('image_properties')
          .select('image_properties.image_id')
          .whereRef('image_properties.image_id', '=', 'images.id')
          .where('image_properties.name', '=', name)
          .where('image_properties.value', '=', value),
      ),
    );
  }

  const marker = options.marker;
  if (marker) {
    // Keyset pagination: rows strictly after the marker in the sort order.
    query = query.where((eb) =>
      eb.or(
        sort.map((spec, i) =>
          eb.and([
            ...sort
              .slice(0, i)
              .map((prev) => eb(sortExpression(eb, prev.key), '=', sortValue(marker, prev.key))),
            eb(sortExpression(eb, spec.key), spec.dir === 'asc' ? '>' : '<', sortValue(marker, spec.key)),
          ]),
        ),
      ),
    );
  }
  for (const spec of sort) query = query.orderBy((eb) => sortExpression(eb, spec.key), spec.dir);
  const rows = await query.limit(options.limit).execute();
  return attachExtras(db, rows);
}

/** Column changes plus tag and property edits, applied in one transaction. */
export interface ImageChanges {
  columns?: Partial<Omit<ImageRow, 'id' | 'created_at'>>;
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
  from: string,
  to: string,
  updatedAt: string,
  columns: Partial<Omit<ImageRow, 'id' | 'status' | 'created_at' | 'updated_at'>> = {},
): Promise<boolean> {
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

/** Every manifest digest some image still references (the garbage collector's roots). */
export async function listReferencedManifests(db: Db): Promise<string[]> {
  const rows = await db
    .selectFrom('images')
    .select('manifest_digest')
    .distinct()
    .where('manifest_digest', 'is not', null)
    .execute();
  return rows.map((r) => r.manifest_digest).filter((d): d is string => d !== null);
}

/** Every image that has stored data, with its manifest's digest (the scrub's list of what must be readable). */
export async function listImageManifests(db: Db): Promise<Array<{ id: string; manifestDigest: Digest }>> {
  const rows = await db
    .selectFrom('images')
    .select(['id', 'manifest_digest'])
    .where('manifest_digest', 'is not', null)
    .execute();
  return rows.flatMap((r) =>
    r.manifest_digest === null ? [] : [{ id: r.id, manifestDigest: r.manifest_digest as Digest }],
  );
}
