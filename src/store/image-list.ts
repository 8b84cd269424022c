/**
 * One page of the image list (`GET /v2/images`): filters, sort keys, keyset pages (marker) and the access
 * rules (who sees what), as one query per page that stays fast at 100,000 images in a project.
 *
 * The images a project may see are the union of three sets, each of which an index finds in sort order:
 * its own (`images_owner_sort`, `images_owner_name`), those of a visibility (`images_visibility_sort`,
 * `images_visibility_name`), and the shared ones it is a member of (`image_members_member_status`, then each
 * image by id); domain/visibility.ts states which sets a viewer sees. As one `owner = me OR visibility = 'public' OR id IN (memberships)` condition, neither SQLite
 * nor PostgreSQL can use the owner index (an OR of different columns): a page cost a scan of the visible
 * images and a sort (p50 20 ms on SQLite, 125 ms on PostgreSQL, at 100,000 images in one project). So each
 * set is its own branch, filtered, ordered by the page's sort key and cut to the page's length after the
 * marker, and the branches are merged by a UNION (which also lists once an image two branches hold, such as
 * the viewer's own public image), ordered and cut again: a page reads at most `limit` rows per branch when
 * the sort key is indexed. Figures: docs/performance.md, "Listing at 100,000 images".
 * @module
 */
import { sql, type ExpressionBuilder, type RawBuilder, type SelectQueryBuilder } from 'kysely';
import type { Db } from './db.js';
import type { FerryDatabase } from './schema.js';
import { attachExtras, type ImageRecord, type ImageRow } from './images.js';
import { listedSets, type ImageSet, type Viewer } from '../domain/visibility.js';

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
  /** Ferry's `name=contains:` filter: names holding this text, whatever its case. */
  nameContains?: string;
  statuses?: string[];
  diskFormats?: string[];
  containerFormats?: string[];
  /** Glance's visibility filter; undefined = the default list (own, public, shared-with-me accepted). */
  visibility?: string;
  owner?: string;
  /** Ferry's `owner=neq:` filter: images of any owner but this one (a console's "shared with me"). */
  ownerNot?: string;
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
type ImagesQuery = SelectQueryBuilder<FerryDatabase, 'images', ImageRow>;

/**
 * The sort expression of a key, unqualified so that it names the column of whatever the query selects from
 * (the images table in a branch, the merged rows outside). Nullable columns sort as if null were the
 * smallest value, the same on both dialects, which also keeps keyset pagination (marker) exact.
 */
function sortExpression(key: SortKey): RawBuilder<unknown> {
  switch (key) {
    case 'name':
    case 'disk_format':
    case 'container_format':
      return sql`coalesce(${sql.ref(key)}, '')`;
    case 'size':
    case 'virtual_size':
      return sql`coalesce(${sql.ref(key)}, -1)`;
    default:
      return sql.ref(key);
  }
}

function sortValue(row: ImageRow, key: SortKey): string | number {
  const value = row[key];
  if (value === null) return key === 'size' || key === 'virtual_size' ? -1 : '';
  return value;
}

/** The rows one branch contributes: a condition on who may see them. */
type Branch = (eb: Eb) => ReturnType<Eb['and']>;

/** One set of domain/visibility.ts's rule, as the condition of one branch. */
function branchOf(set: ImageSet, viewer: Viewer): Branch {
  return (eb) => {
    const visibility = (visibilities?: readonly string[]) =>
      visibilities === undefined ? [] : [eb('images.visibility', 'in', visibilities)];
    switch (set.kind) {
      case 'all':
      case 'visibility':
        return eb.and(visibility(set.visibilities));
      case 'own':
        return eb.and([eb('images.owner', '=', viewer.projectId), ...visibility(set.visibilities)]);
      case 'member': {
        let memberships = eb
          .selectFrom('image_members')
          .select('image_members.image_id')
          .where('image_members.member_id', '=', viewer.projectId);
        if (set.status !== 'all') memberships = memberships.where('image_members.status', '=', set.status);
        return eb.and([eb('images.visibility', '=', 'shared'), eb('images.id', 'in', memberships)]);
      }
    }
  };
}

/** Adds every filter of the list but visibility (the branches) to `query`. */
function applyFilters(query: ImagesQuery, filters: ImageFilters): ImagesQuery {
  if (filters.ids !== undefined) query = query.where('id', 'in', filters.ids);
  if (filters.names !== undefined) query = query.where('name', 'in', filters.names);
  if (filters.nameContains !== undefined) {
    // LIKE with its wildcards escaped, on lower-cased text: SQLite's LIKE ignores ASCII case, PostgreSQL's does not.
    const pattern = `%${filters.nameContains.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    query = query.where(sql<boolean>`lower(name) like ${pattern} escape '\\'`);
  }
  if (filters.statuses !== undefined) query = query.where('status', 'in', filters.statuses);
  if (filters.owner !== undefined) query = query.where('owner', '=', filters.owner);
  if (filters.ownerNot !== undefined) query = query.where('owner', '<>', filters.ownerNot);
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
    // IN rather than a correlated EXISTS: the planner may start from the tag (image_tags_tag) when it is rare.
    query = query.where('images.id', 'in', (eb) =>
      eb.selectFrom('image_tags').select('image_tags.image_id').where('image_tags.tag', '=', tag),
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
  return query;
}

/**
 * Rows strictly after the marker in the sort order (keyset pagination). Besides the exact condition (an OR
 * over the sort keys), the first key is bounded on its own (`<=` or `>=` the marker's value): the OR alone
 * does not let the planner seek the index to the marker, and a page deep in the list scanned every row
 * before it.
 */
function afterMarker(query: ImagesQuery, sort: SortSpec[], marker: ImageRow): ImagesQuery {
  const first = sort[0]!;
  return query
    .where(sortExpression(first.key), first.dir === 'asc' ? '>=' : '<=', sortValue(marker, first.key))
    .where((eb) =>
      eb.or(
        sort.map((spec, i) =>
          eb.and([
            ...sort.slice(0, i).map((prev) => eb(sortExpression(prev.key), '=', sortValue(marker, prev.key))),
            eb(sortExpression(spec.key), spec.dir === 'asc' ? '>' : '<', sortValue(marker, spec.key)),
          ]),
        ),
      ),
    );
}

/** One page of the images the viewer may see, filtered and sorted (ties broken by id). */
export async function listImages(db: Db, options: ListOptions): Promise<ImageRecord[]> {
  const sort: SortSpec[] = [...options.sort];
  if (!sort.some((s) => s.key === 'id')) sort.push({ key: 'id', dir: sort.at(-1)?.dir ?? 'desc' });
  const ordered = <Q extends SelectQueryBuilder<FerryDatabase, never, ImageRow>>(query: Q): Q => {
    for (const spec of sort) query = query.orderBy(sortExpression(spec.key), spec.dir) as Q;
    return query.limit(options.limit) as Q;
  };
  const { viewer, filters } = options;
  const sets = listedSets(viewer, filters.visibility, filters.memberStatus);
  const branches = sets.map((set) => {
    let query = applyFilters(db.selectFrom('images').selectAll().where(branchOf(set, viewer)), filters);
    if (options.marker) query = afterMarker(query, sort, options.marker);
    return ordered(query);
  });
  if (branches.length === 1) return attachExtras(db, await branches[0]!.execute());
  // Each branch is wrapped in a sub-select: a member of a UNION may not carry its own ORDER BY and LIMIT.
  // UNION, not UNION ALL: an image in two branches (the viewer's own public image) is listed once.
  const [first, ...rest] = branches.map((branch) => db.selectFrom(branch.as('branch')).selectAll());
  const union = rest.reduce((merged, branch) => merged.union(branch), first!);
  const rows = await ordered(db.selectFrom(union.as('visible')).selectAll()).execute();
  return attachExtras(db, rows);
}
