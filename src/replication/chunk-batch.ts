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
import type { Readable } from 'node:stream';
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
export function storeChunkBatch(
  body: Readable,
  chunks: readonly BatchChunk[],
  store: Pick<ChunkStore, 'putChunk'>,
  options: StoreBatchOptions,
): Promise<void> {
  const { buffers, onStored } = options;
  const writes: Array<Promise<void> | undefined> = [undefined, undefined];
  let slot = 0;
  let index = 0;
  let filled = 0;
  return new Promise<void>((resolve, reject) => {
    let ended = false;
    const end = (error?: unknown): void => {
      if (ended) return;
      ended = true;
      body.off('data', onData).off('end', onEnd).off('error', onError).off('close', onClose);
      if (error !== undefined) body.destroy();
      // Settles only once no write is using the buffers.
      void Promise.allSettled(writes).then(() => (error === undefined ? resolve() : reject(error)));
    };
    const onError = (error: Error) => end(new BatchStreamError(`the chunk stream broke: ${error.message}`));
    let sawEnd = false;
    const onClose = () => {
      if (!sawEnd) end(new BatchStreamError('the chunk stream closed before its end'));
    };
    const onEnd = () => {
      sawEnd = true;
      if (index < chunks.length) {
        end(new BatchStreamError(`the source's answer ended after ${index} of ${chunks.length} chunks`));
        return;
      }
      Promise.all(writes).then(() => end(), end);
    };
    // 'data' events rather than `for await`: no promise per 64 KiB piece. When the buffer to fill next is
    // still being written, the rest of the piece goes back to the stream, which pauses until that write ends.
    const onData = (received: Buffer) => {
      let piece = received;
      while (piece.length > 0) {
        const chunk = chunks[index];
        if (chunk === undefined) {
          end(new BatchStreamError('the source sent more bytes than were asked for'));
          return;
        }
        const pending = writes[slot];
        if (pending !== undefined) {
          body.pause();
          body.unshift(piece);
          pending.then(() => {
            if (!ended) body.resume();
          }, end);
          return;
        }
        const buffer = buffers[slot]!;
        const copied = piece.copy(buffer, filled, 0, Math.min(piece.length, chunk.length - filled));
        filled += copied;
        piece = piece.subarray(copied);
        if (filled < chunk.length) continue;
        const writing = slot;
        const write: Promise<void> = store
          .putChunk(chunk.digest, buffer.subarray(0, chunk.length))
          .then(() => {
            onStored(chunk);
            if (writes[writing] === write) writes[writing] = undefined; // its buffer is free
          });
        write.catch(end); // a failed write ends the batch with the store's own error
        writes[slot] = write;
        slot ^= 1;
        index += 1;
        filled = 0;
      }
    };
    body.on('data', onData).on('end', onEnd).on('error', onError).on('close', onClose);
  });
}
