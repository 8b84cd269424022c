/**
 * The destination's side of a chunk batch: the source answers one request with many chunks back to back,
 * and this reads that stream, cuts it into chunks by the lengths the manifest gives, and stores each chunk
 * through the chunk store (which checks its SHA-256 before anything is stored) while the next one arrives.
 *
 * Two buffers per batch: one fills from the socket while the chunk in the other is hashed and written.
 * When both are busy the stream is not read, so TCP backpressure slows the source down to the pace of
 * this disk; memory stays at two chunks per batch in flight whatever the batch's size.
 * @module
 */
import type { ChunkStore } from '../blobs/chunk-store.js';
import type { Digest } from '../domain/ids.js';

/** Most chunks one batch request may ask for: 64 MiB of 1 MiB chunks. */
export const MAX_CHUNKS_PER_REQUEST = 64;

export interface BatchChunk {
  readonly digest: Digest;
  readonly length: number;
}

/** The stream broke, or carried more or fewer bytes than the chunks asked for: worth another try. */
export class BatchStreamError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BatchStreamError';
  }
}

export interface StoreBatchOptions {
  /** Two buffers of at least the longest chunk's length; reused, and free again once this settles. */
  readonly buffers: readonly [Buffer, Buffer];

  /** Called once a chunk is stored (verified, durable). */
  readonly onStored: (chunk: BatchChunk) => void;
}

/**
 * Reads `body` to its end and stores `chunks`, in order, from it. Resolves once every chunk is stored.
 * Rejects with BatchStreamError if the stream fails or its length doesn't match, with DigestMismatchError
 * for a chunk whose bytes are not its digest's (nothing stored for it), or with the store's error. Chunks
 * stored before a failure stay stored and were reported to `onStored`. Every write has ended when this
 * settles, so the caller may reuse the buffers at once.
 */
export async function storeChunkBatch(
  body: AsyncIterable<Buffer>,
  chunks: readonly BatchChunk[],
  store: Pick<ChunkStore, 'putChunk'>,
  options: StoreBatchOptions,
): Promise<void> {
  const { buffers, onStored } = options;
  const writes: Array<Promise<void> | undefined> = [undefined, undefined];
  let slot = 0;
  let index = 0;
  let filled = 0;
  const store1 = (chunk: BatchChunk, data: Buffer): Promise<void> => {
    const write = store.putChunk(chunk.digest, data).then(() => onStored(chunk));
    write.catch(() => undefined); // awaited before the buffer is reused or at the end
    return write;
  };
  // Errors of our own writes pass through; any other error came from the stream.
  let ownFailure: { error: unknown } | undefined;
  const own = async (step: Promise<void> | undefined): Promise<void> => {
    try {
      await step;
    } catch (error) {
      ownFailure = { error };
      throw error;
    }
  };
  try {
    try {
      for await (const received of body) {
        let piece = received;
        while (piece.length > 0) {
          const chunk = chunks[index];
          if (chunk === undefined)
            throw new BatchStreamError('the source sent more bytes than were asked for');
          const buffer = buffers[slot]!;
          const copied = piece.copy(buffer, filled, 0, Math.min(piece.length, chunk.length - filled));
          filled += copied;
          piece = piece.subarray(copied);
          if (filled < chunk.length) continue;
          writes[slot] = store1(chunk, buffer.subarray(0, chunk.length));
          slot ^= 1;
          index += 1;
          filled = 0;
          await own(writes[slot]); // the other buffer's chunk must be written before it fills again
          writes[slot] = undefined;
        }
      }
    } catch (error) {
      if (error instanceof BatchStreamError || ownFailure !== undefined) throw error;
      throw new BatchStreamError(`the chunk stream broke: ${(error as Error).message}`);
    }
    await Promise.all(writes);
    if (index < chunks.length) {
      throw new BatchStreamError(`the source's answer ended after ${index} of ${chunks.length} chunks`);
    }
  } finally {
    await Promise.allSettled(writes);
  }
}
