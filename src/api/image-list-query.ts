/**
 * Reads a Glance image-list query string: limit/marker pagination, sort keys and directions (both the old
 * `sort_key`/`sort_dir` pairs and the new `sort=name:asc,size:desc`), and filters, with Glance's operators
 * (`in:` on id, name, status, disk_format and container_format; Ferry's `contains:` on name and `neq:` on owner; gt/gte/lt/lte/eq/neq on created_at and
 * updated_at; an exact value on checksum, os_hash_algo, os_hash_value, size, virtual_size, min_disk and
 * min_ram; any other name is a custom property). Every bad value is a 400 that names the parameter.
 * @module
 */
import { FerryError } from '../domain/errors.js';
import { IMAGE_STATUSES, MEMBER_STATUSES, VISIBILITIES } from '../domain/image.js';
import type { Principal } from '../identity/tokens.js';
import {
  EXACT_INTEGER_COLUMNS,
  EXACT_TEXT_COLUMNS,
  SORT_KEYS,
  type ExactColumnFilters,
  type ImageFilters,
  type ListOptions,
  type SortKey,
  type SortSpec,
  type TimeFilter,
} from '../store/image-list.js';
import { loadVisibleImage } from '../images/access.js';
import type { RegionContext } from '../region/context.js';

type Query = Record<string, string | string[] | undefined>;

/** Query parameters that are not property filters (also the list's parameters in the OpenAPI document). */
export const LIST_QUERY_NAMES: ReadonlySet<string> = new Set([
  'limit',
  'marker',
  'sort_key',
  'sort_dir',
  'sort',
  'name',
  'status',
  'visibility',
  'owner',
  'tag',
  'member_status',
  'size_min',
  'size_max',
  'disk_format',
  'container_format',
  'protected',
  'os_hidden',
  'image_type',
  'id',
  'created_at',
  'updated_at',
  ...EXACT_TEXT_COLUMNS,
  ...EXACT_INTEGER_COLUMNS,
]);

/**
 * Most tag and property filters one list may carry: each becomes a sub-query, and SQLite refuses a query
 * nested deeper than 1000; no real query comes near this.
 */
export const MAX_LIST_FILTERS = 64;

const TIME_OPERATORS: Record<string, TimeFilter['op']> = {
  gt: '>',
  gte: '>=',
  lt: '<',
  lte: '<=',
  eq: '=',
  neq: '<>',
};

function bad(message: string): FerryError {
  return new FerryError('VALIDATION_FAILED', message);
}

/** A comma list (`sort`, `sort_key`, `sort_dir`), given once or repeated. */
function list(value: string | string[] | undefined): string[] {
  if (value === undefined) return [];
  return (Array.isArray(value) ? value : [value]).flatMap((v) => v.split(',')).map((v) => v.trim());
}

/** A repeatable parameter whose values are taken as they are (`tag`: a tag may hold a comma). */
function repeated(value: string | string[] | undefined): string[] {
  if (value === undefined) return [];
  return Array.isArray(value) ? value : [value];
}

function single(query: Query, name: string): string | undefined {
  const value = query[name];
  if (Array.isArray(value)) throw bad(`Give ${name} once.`);
  return value;
}

function integer(query: Query, name: string): number | undefined {
  const value = single(query, name);
  if (value === undefined) return undefined;
  if (!/^\d{1,15}$/.test(value)) throw bad(`${name} must be a non-negative integer.`);
  return Number(value);
}

function boolean(query: Query, name: string): boolean | undefined {
  const value = single(query, name)?.toLowerCase();
  if (value === undefined) return undefined;
  if (value === 'true') return true;
  if (value === 'false') return false;
  throw bad(`${name} must be true or false.`);
}

function oneOf(query: Query, name: string, allowed: readonly string[]): string | undefined {
  const value = single(query, name);
  if (value !== undefined && !allowed.includes(value))
    throw bad(`${name} must be one of ${allowed.join(', ')}.`);
  return value;
}

/**
 * A filter that takes Glance's `in:` operator: `name=in:a,b` (a value holding a comma in double quotes:
 * `in:"a,b",c`) matches any of the values; a plain value matches itself.
 */
function anyOf(query: Query, name: string, allowed?: readonly string[]): string[] | undefined {
  const value = single(query, name);
  if (value === undefined) return undefined;
  let values = [value];
  if (value.startsWith('in:')) {
    values = [...value.slice(3).matchAll(/"([^"]*)"|([^,]+)/g)].map((m) => (m[1] ?? m[2]!).trim());
    if (values.length === 0) throw bad(`${name}=in: needs at least one value.`);
  }
  const wrong = allowed && values.find((v) => !allowed.includes(v));
  if (wrong !== undefined) throw bad(`${name} must be one of ${allowed!.join(', ')}, not ${wrong}.`);
  return values;
}

/**
 * `name`: an exact name, Glance's `in:` list, or Ferry's `contains:` text (what a console's search box asks:
 * names holding it, whatever its case). As with `in:`, a name that itself begins with `contains:` is matched by
 * `in:"contains:…"`.
 */
function nameFilter(query: Query): Pick<ImageFilters, 'names' | 'nameContains'> {
  const value = single(query, 'name');
  if (value?.startsWith('contains:')) {
    const text = value.slice('contains:'.length);
    if (text === '') throw bad('name=contains: needs some text.');
    return { nameContains: text };
  }
  return { names: anyOf(query, 'name') };
}

/** `owner`: a project, or Ferry's `neq:` for every owner but one (the images shared with a project). */
function ownerFilter(query: Query): Pick<ImageFilters, 'owner' | 'ownerNot'> {
  const value = single(query, 'owner');
  if (value?.startsWith('neq:')) return { ownerNot: value.slice('neq:'.length) };
  return { owner: value };
}

/** `created_at=gt:2026-01-01T00:00:00Z` (operators gt, gte, lt, lte, eq, neq; none means eq). */
function timeFilter(query: Query, name: string): TimeFilter | undefined {
  const value = single(query, name);
  if (value === undefined) return undefined;
  // Matches any value, '' and line breaks included (it did not, and `created_at=` answered 500).
  const match = /^(?:(gt|gte|lt|lte|eq|neq):)?([\s\S]*)$/.exec(value)!;
  const at = new Date(match[2]!);
  if (!/^\d{4}-\d\d-\d\d/.test(match[2]!) || Number.isNaN(at.getTime())) {
    throw bad(`${name} must be [gt|gte|lt|lte|eq|neq:]<ISO 8601 time>, e.g. gt:2026-01-01T00:00:00Z.`);
  }
  return { op: TIME_OPERATORS[match[1] ?? 'eq']!, at: at.toISOString().slice(0, 19) };
}

/** `checksum=…`, `min_ram=…` and the other core columns matched by exact value. */
function exactColumns(query: Query): ExactColumnFilters {
  const columns: Record<string, string | number> = {};
  for (const name of EXACT_TEXT_COLUMNS) {
    const value = single(query, name);
    if (value !== undefined) columns[name] = value;
  }
  for (const name of EXACT_INTEGER_COLUMNS) {
    const value = integer(query, name);
    if (value !== undefined) columns[name] = value;
  }
  return columns as ExactColumnFilters;
}

function isSortKey(value: string): value is SortKey {
  return (SORT_KEYS as readonly string[]).includes(value);
}

function parseSort(query: Query): SortSpec[] {
  const sort = list(query.sort);
  const keys = list(query.sort_key);
  const dirs = list(query.sort_dir);
  if (sort.length > 0 && (keys.length > 0 || dirs.length > 0)) {
    throw bad('Use either sort or sort_key/sort_dir, not both.');
  }
  // As Glance: one direction for all keys, or one per key.
  if (dirs.length > 1 && dirs.length !== Math.max(1, keys.length)) {
    throw bad(`Give one sort_dir, or one per sort_key (${keys.length}), not ${dirs.length}.`);
  }
  const specs =
    sort.length > 0
      ? sort.map((s) => {
          const parts = s.split(':');
          if (parts.length > 2) throw bad(`sort takes key:direction pairs, not ${s}.`);
          return parts as [string, string?];
        })
      : keys.map((k, i) => [k, dirs[i] ?? dirs[0]] as [string, string?]);
  if (sort.length === 0 && keys.length === 0 && dirs.length > 0) specs.push(['created_at', dirs[0]]);
  return specs.map(([key, dir]) => {
    if (!isSortKey(key)) throw bad(`Unknown sort key ${key}; use one of ${SORT_KEYS.join(', ')}.`);
    const direction = dir ?? 'desc';
    if (direction !== 'asc' && direction !== 'desc')
      throw bad(`Sort direction must be asc or desc, not ${direction}.`);
    return { key, dir: direction };
  });
}

export async function parseListQuery(
  ctx: RegionContext,
  principal: Principal,
  query: Query,
): Promise<ListOptions> {
  const limit = Math.min(integer(query, 'limit') ?? ctx.limits.defaultListLimit, ctx.limits.maxListLimit);
  const sort = parseSort(query);
  const properties: Record<string, string> = {};
  for (const [name, value] of Object.entries(query)) {
    if (LIST_QUERY_NAMES.has(name) || value === undefined) continue;
    properties[name] = Array.isArray(value) ? value[0]! : value;
  }
  const tags = repeated(query.tag);
  if (tags.length + Object.keys(properties).length > MAX_LIST_FILTERS) {
    throw bad(`A list takes at most ${MAX_LIST_FILTERS} tag and property filters.`);
  }
  const filters: ImageFilters = {
    ids: anyOf(query, 'id')?.map((id) => id.toLowerCase()),
    ...nameFilter(query),
    statuses: anyOf(query, 'status', IMAGE_STATUSES),
    visibility: oneOf(query, 'visibility', [...VISIBILITIES, 'all']),
    ...ownerFilter(query),
    tags,
    memberStatus: oneOf(query, 'member_status', [...MEMBER_STATUSES, 'all']),
    sizeMin: integer(query, 'size_min'),
    sizeMax: integer(query, 'size_max'),
    diskFormats: anyOf(query, 'disk_format'),
    containerFormats: anyOf(query, 'container_format'),
    protected: boolean(query, 'protected'),
    osHidden: boolean(query, 'os_hidden'),
    imageType: single(query, 'image_type'),
    createdAt: timeFilter(query, 'created_at'),
    updatedAt: timeFilter(query, 'updated_at'),
    columns: exactColumns(query),
    properties,
  };
  const markerId = single(query, 'marker');
  let marker;
  if (markerId !== undefined) {
    try {
      marker = await loadVisibleImage(ctx, principal, markerId);
    } catch {
      throw bad(`marker ${markerId} could not be found.`);
    }
  }
  return {
    viewer: { projectId: principal.projectId, isAdmin: principal.isAdmin },
    filters,
    sort: sort.length > 0 ? sort : [{ key: 'created_at', dir: 'desc' }],
    limit,
    ...(marker ? { marker } : {}),
  };
}
