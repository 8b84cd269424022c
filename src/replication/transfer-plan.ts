/**
 * What a replication run must fetch, worked out from the manifest alone: each distinct chunk with its
 * length and the image bytes it covers, the bytes in all-zero chunks (never sent), and, given the chunks the
 * run must fetch, those chunks in batches and the bytes it skips as present. Pure: the run decides which
 * chunks are here (replication/transfer.ts), this says what follows from that.
 * @module
 */
import type { Digest } from '../domain/ids.js';
import { chunkLength, type Manifest } from '../domain/manifest.js';

export interface ManifestChunks {
  /** Each distinct chunk, in the order it first appears: its length, and the image bytes it covers. */
  readonly chunks: ReadonlyMap<Digest, { readonly length: number; readonly imageBytes: number }>;
  /** Image bytes in all-zero chunks. */
  readonly zeroBytes: number;
}

export function manifestChunks(manifest: Manifest): ManifestChunks {
  const chunks = new Map<Digest, { length: number; imageBytes: number }>();
  let zeroBytes = 0;
  manifest.chunks.forEach((digest, index) => {
    const length = chunkLength(manifest, index);
    if (digest === null) {
      zeroBytes += length;
      return;
    }
    const seen = chunks.get(digest);
    if (seen === undefined) chunks.set(digest, { length, imageBytes: length });
    else seen.imageBytes += length;
  });
  return { chunks, zeroBytes };
}

/** Several manifests' chunks as one (a whole-server image's disks): a chunk two of them share counts once. */
export function mergeManifestChunks(parts: readonly ManifestChunks[]): ManifestChunks {
  if (parts.length === 1) return parts[0]!;
  const chunks = new Map<Digest, { length: number; imageBytes: number }>();
  let zeroBytes = 0;
  for (const part of parts) {
    zeroBytes += part.zeroBytes;
    for (const [digest, chunk] of part.chunks) {
      const seen = chunks.get(digest);
      if (seen === undefined) chunks.set(digest, { ...chunk });
      else seen.imageBytes += chunk.imageBytes;
    }
  }
  return { chunks, zeroBytes };
}

export interface TransferPlan {
  /** The chunks to fetch, in manifest order, at most `chunksPerRequest` per batch. */
  readonly batches: Digest[][];
  /** Image bytes covered by chunks that are here already. */
  readonly presentBytes: number;
}

/** The batches to fetch `needed` (a subset of the manifest's chunks) in, and the bytes left to skip. */
export function planTransfer(
  { chunks }: ManifestChunks,
  needed: ReadonlySet<Digest>,
  chunksPerRequest: number,
): TransferPlan {
  const missing: Digest[] = [];
  let presentBytes = 0;
  for (const [digest, { imageBytes }] of chunks) {
    if (needed.has(digest)) missing.push(digest);
    else presentBytes += imageBytes;
  }
  const batches: Digest[][] = [];
  for (let at = 0; at < missing.length; at += chunksPerRequest)
    batches.push(missing.slice(at, at + chunksPerRequest));
  return { batches, presentBytes };
}
