/**
 * A region's credential for region-to-region calls: a secret that only the region holds, in a file of its
 * own (`<data>/<region>/region-credential` by default, mode 0600), presented in `x-ferry-region-secret` on
 * every call it makes to another region. The catalog lists, for each region, the SHA-256 of the credentials
 * it accepts as that region's (`credential_sha256`), so the other regions can check a credential without
 * holding it. The list has two entries while a credential is rotated (docs/security.md).
 * @module
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { FerryError } from '../domain/errors.js';

/** The credential file's name in a region's data folder. */
export const REGION_CREDENTIAL_FILE = 'region-credential';

/** Random bytes in a new credential (sent as 43 base64url characters). */
const CREDENTIAL_BYTES = 32;

/**
 * Shortest credential accepted: 16 characters, as the catalog's former `internal_secret` allowed, so that a
 * migrated secret still works (new ones are 43).
 */
export const MIN_CREDENTIAL_LENGTH = 16;

/** Visible ASCII only: the credential travels in an HTTP header. */
const CREDENTIAL_CHARACTERS = /^[\x21-\x7e]+$/;

/** A SHA-256 in the catalog: 64 hex digits. */
export const CREDENTIAL_HASH = /^[0-9a-f]{64}$/;

/** `<dataDir>/<region>/region-credential`: a region's credential file unless told otherwise. */
export function regionCredentialFile(dataDir: string, region: string): string {
  return path.join(dataDir, region, REGION_CREDENTIAL_FILE);
}

/** The hex SHA-256 of a credential, as the catalog lists it. */
export function credentialSha256(credential: string): string {
  return createHash('sha256').update(credential, 'utf8').digest('hex');
}

/**
 * Whether `presented` is one of the credentials `hashes` lists. Each hash is compared in constant time, and
 * all of them are, so the time taken does not tell which entry (if any) came close.
 */
export function credentialMatches(hashes: readonly string[], presented: unknown): boolean {
  if (typeof presented !== 'string' || presented.length === 0) return false;
  const digest = createHash('sha256').update(presented, 'utf8').digest();
  let matched = false;
  for (const hash of hashes) {
    const listed = Buffer.from(hash, 'hex');
    if (listed.length === digest.length && timingSafeEqual(listed, digest)) matched = true;
  }
  return matched;
}

/** A new random credential (32 bytes, base64url). */
export function newCredential(): string {
  return randomBytes(CREDENTIAL_BYTES).toString('base64url');
}

function refuse(message: string): never {
  throw new FerryError('VALIDATION_FAILED', `region credential: ${message}`);
}

/** Checks a credential's form; returns it. */
export function checkCredential(credential: string, where: string): string {
  if (credential.length < MIN_CREDENTIAL_LENGTH || !CREDENTIAL_CHARACTERS.test(credential)) {
    refuse(
      `${where} must hold one line of at least ${MIN_CREDENTIAL_LENGTH} visible ASCII characters ` +
        '(no spaces)',
    );
  }
  return credential;
}

/**
 * Reads a credential file: one line (a final newline is dropped). Refused if the file is readable or
 * writable by anyone but its owner (as ssh refuses such a private key): `chmod 600 FILE`.
 */
export async function readCredential(file: string): Promise<string> {
  let mode: number;
  let text: string;
  try {
    mode = (await stat(file)).mode;
    text = await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return refuse(`cannot read ${file}${code === 'ENOENT' ? ' (no such file)' : `: ${code}`}`);
  }
  if (process.platform !== 'win32' && (mode & 0o077) !== 0) {
    refuse(`${file} is open to other users (mode ${(mode & 0o777).toString(8)}): run \`chmod 600 ${file}\``);
  }
  return checkCredential(text.replace(/\r?\n$/, ''), file);
}

/**
 * Writes `credential` to `file` (mode 0600), replacing it at once: the new file is written beside it and
 * renamed over it, so a region that reads the file meanwhile sees the old credential or the new one, never
 * half of one.
 */
export async function writeCredential(file: string, credential: string): Promise<void> {
  checkCredential(credential, 'the new credential');
  await mkdir(path.dirname(file), { recursive: true });
  const staged = `${file}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await writeFile(staged, credential + '\n', { mode: 0o600, flag: 'wx' });
    await rename(staged, file);
  } catch (error) {
    await rm(staged, { force: true });
    throw error;
  }
}

/** The credential in `file`, which is created with a new random one if it does not exist. */
export async function ensureCredential(file: string): Promise<{ credential: string; created: boolean }> {
  try {
    await stat(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    const credential = newCredential();
    await mkdir(path.dirname(file), { recursive: true });
    try {
      await writeFile(file, credential + '\n', { mode: 0o600, flag: 'wx' });
      return { credential, created: true };
    } catch (raced) {
      // Another process created it first: use theirs.
      if ((raced as NodeJS.ErrnoException).code !== 'EEXIST') throw raced;
    }
  }
  return { credential: await readCredential(file), created: false };
}

/**
 * The credential file of each of `regions` under `dataDir` (`<dataDir>/<region>/region-credential`),
 * created if missing; answers each region's list of hashes for its catalog entry (`loopbackCatalog`).
 */
export async function ensureRegionCredentials(
  dataDir: string,
  regions: readonly string[],
): Promise<(region: string) => string[]> {
  const hashes = new Map<string, string>();
  for (const region of regions) {
    const { credential } = await ensureCredential(regionCredentialFile(dataDir, region));
    hashes.set(region, credentialSha256(credential));
  }
  return (region) => {
    const hash = hashes.get(region);
    return hash === undefined ? [] : [hash];
  };
}
