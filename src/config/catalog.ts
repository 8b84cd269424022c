/**
 * The region catalog: every region's name, display name and endpoint, the SHA-256 of the credentials each
 * region accepts as its own (config/region-credential.ts), and which source → destination replication pairs
 * are allowed. Every region reads the same file; it is validated when a region starts and when it is
 * re-read (region/region-trust.ts). It holds no secret.
 * @module
 */
import { isIP } from 'node:net';
import { readFile } from 'node:fs/promises';
import { FerryError } from '../domain/errors.js';
import { CREDENTIAL_HASH } from './region-credential.js';

export interface CatalogRegion {
  name: string;
  display_name: string;
  /**
   * Base URL clients and the other regions use, e.g. https://north-1.ferry.example. Plain `http:` only on
   * loopback, unless the catalog says `allow_plain_http`.
   */
  endpoint: string;
  /**
   * Hex SHA-256 of each credential accepted as this region's in region-to-region calls: one, or two while
   * the region's credential is rotated. The credential itself is in the region's own file. Empty or absent:
   * the region takes no part in region-to-region calls (and a clients' catalog has none).
   */
  credential_sha256?: string[];
}

export interface RegionCatalog {
  regions: CatalogRegion[];
  /** Allowed replication pairs as [source, destination]. */
  replication_pairs: Array<[string, string]>;
  /**
   * Lets endpoints that are not loopback use plain `http:` (default: false, such a catalog is refused): region
   * credentials, tokens and image bytes then cross the network unencrypted. For a network that is private by
   * other means (a VPN, a TLS-terminating proxy on each host).
   */
  allow_plain_http?: boolean;
}

const REGION_NAME = /^[a-z][a-z0-9-]{1,62}$/;

function parseUrl(text: string): URL | null {
  try {
    return new URL(text);
  } catch {
    return null;
  }
}

/** Loopback hosts: 127.0.0.0/8, ::1 and localhost. */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  if (host === 'localhost' || host === '::1') return true;
  return isIP(host) === 4 && host.startsWith('127.');
}

/** What the refusal of the former `internal_secret` field says: how to move to credential files. */
export const INTERNAL_SECRET_REFUSAL =
  'the catalog no longer holds region secrets (internal_secret). Each region keeps its credential in a file ' +
  'of its own and the catalog lists its SHA-256 (credential_sha256): run `ferry region credential migrate ' +
  '--catalog FILE --data DIR`, which moves each secret into DIR/<region>/region-credential and rewrites the ' +
  'catalog (docs/security.md); `ferry local` migrates its own data folder by itself';

/** Validates a parsed catalog; throws with a message naming the bad entry. */
export function parseCatalog(value: unknown): RegionCatalog {
  const fail = (message: string): never => {
    throw new FerryError('VALIDATION_FAILED', `region catalog: ${message}`);
  };
  if (typeof value !== 'object' || value === null) return fail('must be a JSON object');
  const { regions, replication_pairs, allow_plain_http } = value as Record<string, unknown>;
  if (allow_plain_http !== undefined && typeof allow_plain_http !== 'boolean') {
    return fail('"allow_plain_http" must be true or false');
  }
  if (!Array.isArray(regions) || regions.length === 0) return fail('"regions" must be a non-empty array');
  const parsed: CatalogRegion[] = regions.map((r: unknown, i) => {
    if (typeof r !== 'object' || r === null) return fail(`regions[${i}] must be an object`);
    const { name, display_name, endpoint, credential_sha256 } = r as Record<string, unknown>;
    if ('internal_secret' in r) return fail(`regions[${i}].internal_secret: ${INTERNAL_SECRET_REFUSAL}`);
    if (typeof name !== 'string' || !REGION_NAME.test(name)) {
      return fail(`regions[${i}].name must be lower-case letters, digits and dashes`);
    }
    const url = typeof endpoint === 'string' && /^https?:\/\//.test(endpoint) ? parseUrl(endpoint) : null;
    if (typeof endpoint !== 'string' || url === null) {
      return fail(`regions[${i}].endpoint must be an http(s) URL`);
    }
    if (url.protocol === 'http:' && !isLoopbackHost(url.hostname) && allow_plain_http !== true) {
      return fail(
        `regions[${i}].endpoint ${endpoint} is plain HTTP to a host that is not loopback: use https://, or ` +
          'set "allow_plain_http": true in the catalog if the network is private by other means ' +
          '(region credentials, tokens and images then cross it unencrypted)',
      );
    }
    let hashes: string[] | undefined;
    if (credential_sha256 !== undefined) {
      if (
        !Array.isArray(credential_sha256) ||
        !credential_sha256.every((h) => typeof h === 'string' && CREDENTIAL_HASH.test(h.toLowerCase()))
      ) {
        return fail(`regions[${i}].credential_sha256 must be a list of SHA-256 hashes (64 hex digits)`);
      }
      hashes = [...new Set(credential_sha256.map((h: string) => h.toLowerCase()))];
    }
    return {
      name,
      display_name: typeof display_name === 'string' ? display_name : name,
      endpoint: endpoint.replace(/\/+$/, ''),
      ...(hashes !== undefined ? { credential_sha256: hashes } : {}),
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
  return {
    regions: parsed,
    replication_pairs: parsedPairs,
    ...(allow_plain_http === true ? { allow_plain_http: true } : {}),
  };
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

/** Whether `region` takes part in region-to-region calls: the catalog lists a credential for it. */
export function hasCredentials(region: CatalogRegion | undefined): boolean {
  return (region?.credential_sha256?.length ?? 0) > 0;
}

/**
 * The catalog as clients may have it: the same regions, endpoints and pairs without the credential hashes.
 * The hashes are not secret (a credential cannot be found from its SHA-256: it is 32 random bytes), but
 * clients have no use for them, and a list that changes at every rotation would make their copy stale.
 */
export function clientCatalog(catalog: RegionCatalog): RegionCatalog {
  return {
    regions: catalog.regions.map(({ name, display_name, endpoint }) => ({ name, display_name, endpoint })),
    replication_pairs: catalog.replication_pairs,
    ...(catalog.allow_plain_http === true ? { allow_plain_http: true } : {}),
  };
}

/** A catalog where every region may replicate into every other (the local demo's). */
export function fullMeshPairs(names: string[]): Array<[string, string]> {
  return names.flatMap((from) => names.filter((to) => to !== from).map((to): [string, string] => [from, to]));
}

/**
 * A catalog of regions on 127.0.0.1, `names[i]` on port `ports[i]`, each accepting the credentials whose
 * hashes `credentials` gives for it, and every pair allowed: the local demo's (`ferry local`), and the one
 * tests and benchmarks start. `scheme` https when the regions serve TLS.
 */
export function loopbackCatalog(
  names: readonly string[],
  ports: readonly number[],
  credentials: (region: string) => string[],
  scheme: 'http' | 'https' = 'http',
): RegionCatalog {
  return {
    regions: names.map((name, i) => ({
      name,
      display_name: name.replace(/^(\w)/, (c) => c.toUpperCase()).replace('-', ' '),
      endpoint: `${scheme}://127.0.0.1:${ports[i] ?? 0}`,
      credential_sha256: credentials(name),
    })),
    replication_pairs: fullMeshPairs([...names]),
  };
}
