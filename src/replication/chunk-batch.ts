/**
 * The destination's side of a chunk batch: the source answers one request with many chunks back to back,
 * and a ChunkReceiver cuts those bytes into chunks by the lengths the manifest gives, and stores each chunk
 * through the chunk store (which checks its SHA-256 before anything is stored) while the next one arrives.
 *
 * Two buffers per batch: one fills while the chunk in the other is hashed (on the chunk store's hash pool,
 * in place: the buffers are shared memory) and written. The connection
 * (batch-connection.ts) reads the socket straight into the free part of the buffer being filled
 * (`freeRegion`), or hands over bytes it already holds (`take`); when both buffers are busy the receiver is
 * `blocked` and the connection stops reading, so TCP backpressure slows the source down to the pace of this
 * disk. Memory stays at two chunks per batch in flight, whatever the batch's size.
 * @module
 */
import type { ChunkStore } from '../blobs/chunk-store.js';
import type { Digest } from '../domain/ids.js';

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

export interface ChunkReceiverOptions {
  /** Two buffers of at least the longest chunk's length; reused, and free again once `settled()` resolves. */
  readonly buffers: readonly [Buffer, Buffer];
  /** Called once a chunk is stored (verified; durable once the store is flushed, as putManifest does). */
  readonly onStored: (chunk: BatchChunk) => void;
}

/**
 * Receives the bytes of one batch, in order, and stores its chunks. The first failed write (a digest
 * mismatch: nothing is stored for that chunk; or the store's own error) is kept as `failure`; chunks stored
 * before it stay stored and were reported to `onStored`.
 */
export class ChunkReceiver {
  /** Bytes the whole batch must carry. */
  readonly total: number;
  failure: { error: unknown } | undefined;

  private readonly writes: Array<Promise<void> | undefined> = [undefined, undefined];
  private slot = 0;
  private index = 0;
  private filled = 0;
  /** Bytes handed to `take` that could not be placed yet (both buffers busy). */
  private held: Buffer | undefined;
  private unblocked: (() => void) | undefined;

  constructor(
    private readonly chunks: readonly BatchChunk[],
    private readonly store: Pick<ChunkStore, 'putChunk'>,
    private readonly options: ChunkReceiverOptions,
  ) {
    this.total = chunks.reduce((sum, chunk) => sum + chunk.length, 0);
  }

  /** Whether every chunk's bytes have arrived (their writes may still be running). */
  get complete(): boolean {
    return this.index === this.chunks.length;
  }

  /** True while bytes wait for a buffer: read nothing more until `whenUnblocked` resolves. */
  get blocked(): boolean {
    return this.held !== undefined || (!this.complete && this.writes[this.slot] !== undefined);
  }

  /** Resolves when the receiver can take bytes again (or has failed). */
  whenUnblocked(): Promise<void> {
    if (!this.blocked || this.failure) return Promise.resolve();
    return new Promise((resolve) => (this.unblocked = resolve));
  }

  /**
   * Where the next bytes may be read to directly: the unfilled part of the current chunk in a free
   * buffer, or undefined (no chunk left, or blocked). Report what was read there with `filledRegion`.
   */
  freeRegion(): Buffer | undefined {
    const chunk = this.chunks[this.index];
    if (chunk === undefined || this.blocked || this.failure) return undefined;
    return this.options.buffers[this.slot]!.subarray(this.filled, chunk.length);
  }

  /** `count` bytes were read into the region `freeRegion` gave. */
  filledRegion(count: number): void {
    this.filled += count;
    if (this.filled === this.chunks[this.index]!.length) this.chunkArrived();
  }

  /**
   * Copies `bytes` into the chunk buffers; what can't be placed now (both buffers busy) is kept (copied)
   * and placed when a write ends. Throws BatchStreamError for bytes beyond the last chunk.
   */
  take(bytes: Buffer): void {
    let rest = bytes;
    while (rest.length > 0) {
      const chunk = this.chunks[this.index];
      if (chunk === undefined) throw new BatchStreamError('the source sent more bytes than were asked for');
      if (this.writes[this.slot] !== undefined) {
        this.held = this.held === undefined ? Buffer.from(rest) : Buffer.concat([this.held, rest]);
        return;
      }
      const copied = rest.copy(
        this.options.buffers[this.slot]!,
        this.filled,
        0,
        Math.min(rest.length, chunk.length - this.filled),
      );
      rest = rest.subarray(copied);
      this.filledRegion(copied);
    }
  }

  /** Resolves when every write started has ended; rejects with the first failure. */
  async settled(): Promise<void> {
    await Promise.allSettled(this.writes);
    if (this.failure) throw this.failure.error;
  }

  private chunkArrived(): void {
    const chunk = this.chunks[this.index]!;
    const slot = this.slot;
    // deferSync: the chunk becomes durable at the next barrier (the transfer runs one before it records the
    // chunks it holds, and the final putManifest is one); a chunk lost in a crash before that is fetched again.
    const write: Promise<void> = this.store
      .putChunk(chunk.digest, this.options.buffers[slot]!.subarray(0, chunk.length), { deferSync: true })
      .then(
        () => {
          this.options.onStored(chunk);
          this.writeEnded(slot, write);
        },
        (error: unknown) => {
          this.failure ??= { error };
          this.writeEnded(slot, write);
        },
      );
    this.writes[slot] = write;
    this.slot ^= 1;
    this.index += 1;
    this.filled = 0;
  }

  private writeEnded(slot: number, write: Promise<void>): void {
    if (this.writes[slot] === write) this.writes[slot] = undefined; // its buffer is free again
    if (this.held !== undefined && this.writes[this.slot] === undefined && !this.failure) {
      const held = this.held;
      this.held = undefined;
      try {
        this.take(held);
      } catch (error) {
        this.failure = { error }; // bytes beyond the last chunk
      }
    }
    if (!this.blocked || this.failure) {
      const wake = this.unblocked;
      this.unblocked = undefined;
      wake?.();
    }
  }
}
