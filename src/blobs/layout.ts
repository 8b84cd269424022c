/**
 * The storage layout: the one module that turns digests into blob keys and keys back into digests. A key
 * built anywhere else is a bug. Every driver stores these keys as they are (the fs driver in its packs'
 * index files, `drivers/packs.ts`; S3 as object names), so the tree below is the keys an operator sees:
 *
 * ```
 * <root>/
 * ├── v1/                               layout version; a new layout gets v2/ next to it and a migration
 * │   ├── chunks/                       image data, one object per distinct non-zero chunk
 * │   │   ├── 00/ … ff/                 shard = first two hex characters of the digest (256 directories,
 * │   │   │   └── 00a1…(64 hex)         so no directory grows past ~1/256 of the chunks)
 * │   │   │                             content = the chunk's bytes; name = their SHA-256
 * │   └── manifests/
 * │       ├── 00/ … ff/
 * │       │   └── 00b7…(64 hex)         content = a serialised manifest (domain/manifest.ts); name = its SHA-256
 * └── tmp/                              reserved for drivers, never a key (see blobs/driver.ts)
 * ```
 *
 * Every object is immutable and content-addressed: its key is the SHA-256 of its bytes, so a key says both
 * where an object is and how to verify it.
 * @module
 */
import { isDigest, type Digest } from '../domain/ids.js';

/** The layout version; the root segment of every key. */
export const LAYOUT_VERSION = 'v1';

/** The kinds of object the layout places. */
export type BlobKind = 'chunk' | 'manifest';

const KIND_FOLDERS = { chunk: 'chunks', manifest: 'manifests' } as const satisfies Record<BlobKind, string>;

/** List prefix of all chunk keys (for GC). */
export const CHUNKS_PREFIX = `${LAYOUT_VERSION}/${KIND_FOLDERS.chunk}/`;
/** List prefix of all manifest keys (for GC). */
export const MANIFESTS_PREFIX = `${LAYOUT_VERSION}/${KIND_FOLDERS.manifest}/`;

function keyFor(kind: BlobKind, digest: Digest): string {
  if (!isDigest(digest)) throw new TypeError(`not a SHA-256 digest: ${JSON.stringify(digest)}`);
  return `${LAYOUT_VERSION}/${KIND_FOLDERS[kind]}/${digest.slice(0, 2)}/${digest}`;
}

/** `v1/chunks/ab/abcdef…`. Throws TypeError if `digest` is not 64 lower-case hex characters. */
export function chunkKey(digest: Digest): string {
  return keyFor('chunk', digest);
}

/** `v1/manifests/ab/abcdef…`. Throws TypeError if `digest` is not 64 lower-case hex characters. */
export function manifestKey(digest: Digest): string {
  return keyFor('manifest', digest);
}

const KEY_PATTERN = /^v1\/(chunks|manifests)\/([0-9a-f]{2})\/([0-9a-f]{64})$/;

/**
 * The kind and digest a key stands for, or undefined for any key this layout did not make (including a
 * digest filed under the wrong shard). GC lists the store with it and skips what it doesn't recognise.
 */
export function parseKey(key: string): { kind: BlobKind; digest: Digest } | undefined {
  const match = KEY_PATTERN.exec(key);
  if (match === null) return undefined;
  const [, folder, shard, hex] = match as unknown as [string, string, string, string];
  if (!hex.startsWith(shard)) return undefined;
  return { kind: folder === KIND_FOLDERS.chunk ? 'chunk' : 'manifest', digest: hex as Digest };
}

/** The digest of a chunk key, or undefined if `key` is not a chunk key. */
export function parseChunkKey(key: string): Digest | undefined {
  const parsed = parseKey(key);
  return parsed?.kind === 'chunk' ? parsed.digest : undefined;
}

/** The digest of a manifest key, or undefined if `key` is not a manifest key. */
export function parseManifestKey(key: string): Digest | undefined {
  const parsed = parseKey(key);
  return parsed?.kind === 'manifest' ? parsed.digest : undefined;
}
