/**
 * The region catalog: every region's name, display name and endpoint, and which source → destination
 * replication pairs are allowed. Every region reads the same file; it is validated when a region starts.
 * @module
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { FerryError } from '../domain/errors.js';

export interface CatalogRegion {
  name: string;
  display_name: string;
  /** Base URL clients use, e.g. http://127.0.0.1:9301 */
  endpoint: string;
  /**
   * The region's credential for region-to-region calls: a region presents its own secret when it calls
   * another, which checks it against this catalog. Without it the region takes no part in replication.
   */
  internal_secret?: string;
}

export interface RegionCatalog {
  regions: CatalogRegion[];
  /** Allowed replication pairs as [source, destination]. */
  replication_pairs: Array<[string, string]>;
}

const REGION_NAME = /^[a-z][a-z0-9-]{1,62}$/;

/** Validates a parsed catalog; throws with a message naming the bad entry. */
export function parseCatalog(value: unknown): RegionCatalog {
  const fail = (message: string): never => {
    throw new FerryError('VALIDATION_FAILED', `region catalog: ${message}`);
  };
  if (typeof value !== 'object' || value === null) return fail('must be a JSON object');
  const { regions, replication_pairs } = value as Record<string, unknown>;
  if (!Array.isArray(regions) || regions.length === 0) return fail('"regions" must be a non-empty array');
  const parsed: CatalogRegion[] = regions.map((r: unknown, i) => {
    if (typeof r !== 'object' || r === null) return fail(`regions[${i}] must be an object`);
    const { name, display_name, endpoint, internal_secret } = r as Record<string, unknown>;
    if (typeof name !== 'string' || !REGION_NAME.test(name)) {
      return fail(`regions[${i}].name must be lower-case letters, digits and dashes`);
    }
    if (typeof endpoint !== 'string' || !/^https?:\/\//.test(endpoint)) {
      return fail(`regions[${i}].endpoint must be an http(s) URL`);
    }
    if (
      internal_secret !== undefined &&
      (typeof internal_secret !== 'string' || internal_secret.length < 16)
    ) {
      return fail(`regions[${i}].internal_secret must be a string of at least 16 characters`);
    }
    return {
      name,
      display_name: typeof display_name === 'string' ? display_name : name,
      endpoint: endpoint.replace(/\/+$/, ''),
      ...(internal_secret !== undefined ? { internal_secret } : {}),
    };
  });
  const names = new Set(parsed.map((r) => r.name));
  if (names.size !== parsed.length) fail('region names must be unique');
  const pairs = replication_pairs ?? [];
  if (!Array.isArray(pairs)) return fail('"replication_pairs" must be an array of [source, destination]');
  const parsedPairs = pairs.map((p: unknown, i): [string, string] => {
    if (!Array.isArray(p) || p.length !== 2 || !p.every((n) => typeof n === 'string' && names.has(n))) {
      return fail(`replication_pairs[${i}] must be [source, destination] of known regions`);
    }
    if (p[0] === p[1]) return fail(`replication_pairs[${i}] names the same region twice`);
    return [p[0] as string, p[1] as string];
  });
  return { regions: parsed, replication_pairs: parsedPairs };
}

export async function loadCatalog(file: string): Promise<RegionCatalog> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    throw new FerryError('VALIDATION_FAILED', `region catalog: cannot read ${file}`);
  }
  try {
    return parseCatalog(JSON.parse(text));
  } catch (error) {
    if (error instanceof SyntaxError) {
      throw new FerryError('VALIDATION_FAILED', `region catalog: ${file} is not valid JSON`);
    }
    throw error;
  }
}

export function findRegion(catalog: RegionCatalog, name: string): CatalogRegion | undefined {
  return catalog.regions.find((r) => r.name === name);
}

/** The regions `from` may replicate into, in the catalog's order of pairs. */
export function replicationTargets(catalog: RegionCatalog, from: string): string[] {
  return catalog.replication_pairs.filter(([source]) => source === from).map(([, to]) => to);
}

/**
 * The catalog as clients may have it: the same regions, endpoints and pairs without the regions' secrets.
 * A region's `internal_secret` lets its holder act as that region towards every other (issue tokens for
 * any user, read any image under a forged grant), so only the servers' copy may carry it.
 */
export function clientCatalog(catalog: RegionCatalog): RegionCatalog {
  return {
    regions: catalog.regions.map(({ name, display_name, endpoint }) => ({ name, display_name, endpoint })),
    replication_pairs: catalog.replication_pairs,
  };
}

/** Whether any region of a catalog carries its secret (a catalog for servers, not to hand to clients). */
export function holdsSecrets(catalog: RegionCatalog): boolean {
  return catalog.regions.some((r) => r.internal_secret !== undefined);
}

/** A catalog where every region may replicate into every other (the local demo's). */
export function fullMeshPairs(names: string[]): Array<[string, string]> {
  return names.flatMap((from) => names.filter((to) => to !== from).map((to): [string, string] => [from, to]));
}

/**
 * A catalog of regions on 127.0.0.1, `names[i]` on port `ports[i]`, each with a new random internal secret,
 * and every pair allowed: the local demo's (`ferry local`), and the one tests and benchmarks start.
 */
export function loopbackCatalog(names: readonly string[], ports: readonly number[]): RegionCatalog {
  return {
    regions: names.map((name, i) => ({
      name,
      display_name: name.replace(/^(\w)/, (c) => c.toUpperCase()).replace('-', ' '),
      endpoint: `http://127.0.0.1:${ports[i] ?? 0}`,
      internal_secret: randomBytes(24).toString('base64url'),
    })),
    replication_pairs: fullMeshPairs([...names]),
  };
}
