/**
 * What a region trusts and presents in region-to-region calls, kept current while it runs: the catalog
 * (whose `credential_sha256` lists say which credential each region is accepted with) and the region's own
 * credential (its file, config/region-credential.ts). Both files are looked at again on `refresh`: by a
 * periodic check (`replication.trustCheckMs`), on SIGHUP to `ferry serve`, and by the region-to-region
 * routes before they refuse a credential (so a peer that already uses a credential this region's catalog
 * file lists since a moment is not refused in between). A file is re-read only when its inode, size or
 * times changed. This is what lets a credential be rotated without stopping a region (docs/security.md).
 *
 * Rules of a refresh:
 * - A catalog that does not parse, or that no longer names this region, is not taken: the region keeps the
 *   one it has and logs why.
 * - An endpoint with port 0 in the file ("the port the deployment chooses at start", `ferry local --port 0`)
 *   keeps the endpoint the region was told since.
 * - The credential file's content is used only once this region's own catalog entry lists its hash: until
 *   then the region goes on presenting its previous credential, which the others still accept. So the
 *   order of a rotation's steps (hash in the catalog first, then the new credential in the file) cannot
 *   lock the region out, whichever of the two files the region happens to look at first.
 * @module
 */
import { stat } from 'node:fs/promises';
import { findRegion, hasCredentials, loadCatalog, type RegionCatalog } from '../config/catalog.js';
import { credentialMatches, readCredential } from '../config/region-credential.js';
import { coerceError } from '../domain/errors.js';

/** Where a refresh says what it did. */
export interface TrustLog {
  info(message: string): void;
  error(message: string): void;
}

export interface RegionTrust {
  /** The catalog as the region has it now. */
  catalog(): RegionCatalog;
  /** The credential the region presents now; undefined if the catalog lists none for it. */
  credential(): string | undefined;
  /**
   * Looks at the catalog file and the credential file, re-reads what changed and applies the rules above.
   * Resolves true if the catalog or the credential in use changed. Calls made while one runs are served by
   * one more pass after it (never by the one in progress, which may have looked before the change).
   */
  refresh(log: TrustLog): Promise<boolean>;
}

export interface RegionTrustOptions {
  region: string;
  /** The catalog as the region was started with. */
  catalog: RegionCatalog;
  /** The file to re-read it from; undefined: the catalog stays as given. */
  catalogFile?: string;
  /** The region's credential file. */
  credentialFile: string;
}

/** What tells that a file changed: its inode (a rename), size and times; 'missing' if it is not there. */
async function stampOf(file: string): Promise<string> {
  try {
    const s = await stat(file);
    return `${s.ino}:${s.size}:${s.mtimeMs}:${s.ctimeMs}`;
  } catch {
    return 'missing';
  }
}

/** `next` with the endpoints it gives as port 0 taken from `current` (the ports chosen at start). */
function keepAssignedEndpoints(next: RegionCatalog, current: RegionCatalog): RegionCatalog {
  for (const entry of next.regions) {
    if (new URL(entry.endpoint).port !== '0') continue;
    const known = findRegion(current, entry.name)?.endpoint;
    if (known !== undefined) entry.endpoint = known;
  }
  return next;
}

function listedFor(catalog: RegionCatalog, region: string, credential: string): boolean {
  return credentialMatches(findRegion(catalog, region)?.credential_sha256 ?? [], credential);
}

/**
 * Reads the catalog file (if any) and the credential file as they are at start. Refused (thrown) if the
 * catalog lists credentials for this region but its credential file cannot be read, or holds a credential
 * the catalog does not list: the other regions would refuse every call it makes.
 */
export async function openRegionTrust(options: RegionTrustOptions): Promise<RegionTrust> {
  const { region, catalogFile, credentialFile } = options;
  let catalogStamp = catalogFile === undefined ? undefined : await stampOf(catalogFile);
  let catalog =
    catalogFile === undefined
      ? options.catalog
      : keepAssignedEndpoints(await loadCatalog(catalogFile), options.catalog);
  if (findRegion(catalog, region) === undefined) {
    throw new Error(`region ${region} is not in the region catalog`);
  }
  let credentialStamp = await stampOf(credentialFile);
  let fileCredential: string | undefined;
  let unreadable: unknown;
  if (credentialStamp !== 'missing') {
    try {
      fileCredential = await readCredential(credentialFile);
    } catch (error) {
      unreadable = error;
    }
  }
  let credential: string | undefined;
  if (hasCredentials(findRegion(catalog, region))) {
    if (fileCredential === undefined) {
      const reason =
        unreadable === undefined ? `${credentialFile} does not exist` : coerceError(unreadable).message;
      throw new Error(
        `region ${region}: the catalog lists its credential (credential_sha256), but ${reason}`,
      );
    }
    if (!listedFor(catalog, region, fileCredential)) {
      throw new Error(
        `region ${region}: the credential in ${credentialFile} is not one the catalog lists for it ` +
          '(credential_sha256): the other regions would refuse its calls',
      );
    }
    credential = fileCredential;
  }

  async function pass(log: TrustLog): Promise<boolean> {
    let changed = false;
    let credentialRead = false;
    if (catalogFile !== undefined) {
      const stamp = await stampOf(catalogFile);
      if (stamp !== catalogStamp) {
        catalogStamp = stamp;
        try {
          const next = await loadCatalog(catalogFile);
          if (findRegion(next, region) === undefined) throw new Error(`it does not name region ${region}`);
          catalog = keepAssignedEndpoints(next, catalog);
          changed = true;
          log.info(`region ${region}: catalog ${catalogFile} re-read`);
        } catch (error) {
          log.error(
            `region ${region}: catalog ${catalogFile} not taken, the previous one is kept: ${coerceError(error).message}`,
          );
        }
      }
    }
    const stamp = await stampOf(credentialFile);
    if (stamp !== credentialStamp) {
      credentialStamp = stamp;
      try {
        fileCredential = await readCredential(credentialFile);
        credentialRead = true;
      } catch (error) {
        log.error(
          `region ${region}: credential file not taken, the previous credential is kept: ${coerceError(error).message}`,
        );
      }
    }
    if (fileCredential !== undefined && fileCredential !== credential) {
      if (listedFor(catalog, region, fileCredential)) {
        credential = fileCredential;
        changed = true;
        log.info(`region ${region}: new credential from ${credentialFile} in use from the next call`);
      } else if (credentialRead || changed) {
        log.error(
          `region ${region}: the credential in ${credentialFile} is not listed for it in the catalog yet; ` +
            'the previous one is kept until the catalog lists it (add its hash everywhere first)',
        );
      }
    }
    if (changed && credential !== undefined && !listedFor(catalog, region, credential)) {
      log.error(
        `region ${region}: the catalog no longer lists the credential this region presents: the other ` +
          'regions will refuse its calls once they read this catalog',
      );
    }
    return changed;
  }

  let running: Promise<boolean> | undefined;
  let queued: Promise<boolean> | undefined;
  return {
    catalog: () => catalog,
    credential: () => credential,
    refresh(log) {
      if (queued !== undefined) return queued;
      const start = (): Promise<boolean> => {
        const run = pass(log).finally(() => {
          if (running === run) running = undefined;
        });
        running = run;
        return run;
      };
      if (running === undefined) return start();
      queued = running
        .catch(() => false)
        .then(() => {
          queued = undefined;
          return start();
        });
      return queued;
    },
  };
}
