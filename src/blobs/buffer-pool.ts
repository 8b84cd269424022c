/**
 * Shared chunk buffers kept for reuse: an upload's ring, a replication lane's pair. Each set is one
 * SharedArrayBuffer, and a SharedArrayBuffer is freed only once every thread that saw it (this one and the
 * hash pool's) has collected its heap, which a process with a large, quiet heap does seldom: when each
 * upload and each lane allocated its own, a region process's RSS grew by 25-35 MiB per bench round and never
 * came back down (north-1 113 → 287 MiB, south-1 117 → 245 MiB in three rounds). Reused, they are
 * allocated once per peak of concurrent work, and the hash pool's threads know them already.
 *
 * Sets given back wait, up to `maxIdleBytes` in all, for the next caller that asks for the same shape; the
 * rest are let go of (the hash pool forgets them; the collector frees them when it runs).
 * @module
 */

/** One SharedArrayBuffer carved into `count` views of `size` bytes, as the allocator gave it. */
interface BufferSet {
  readonly shape: string;
  readonly views: readonly Buffer[];
  readonly bytes: number;
  inUse: boolean;
}

export interface SharedBufferPoolOptions {
  /** Makes a new set: `count` views of `size` bytes of one SharedArrayBuffer. */
  readonly allocate: (count: number, size: number) => Promise<Buffer[]>;
  /** Called for each set the pool lets go of (e.g. the hash pool forgets its memory). */
  readonly discard: (memory: SharedArrayBuffer) => void;
  /** Most bytes of idle sets kept for reuse. */
  readonly maxIdleBytes: number;
}

export class SharedBufferPool {
  private readonly idle = new Map<string, BufferSet[]>();
  private readonly sets = new WeakMap<ArrayBufferLike, BufferSet>();
  private idleBytes = 0;

  constructor(private readonly options: SharedBufferPoolOptions) {}

  /** Bytes held by idle sets. */
  get idleSize(): number {
    return this.idleBytes;
  }

  /** `count` views of `size` bytes of one SharedArrayBuffer: an idle set of that shape, or a new one. */
  async take(count: number, size: number): Promise<Buffer[]> {
    const shape = `${count}x${size}`;
    const reused = this.idle.get(shape)?.pop();
    if (reused !== undefined) {
      this.idleBytes -= reused.bytes;
      reused.inUse = true;
      return [...reused.views];
    }
    const views = await this.options.allocate(count, size);
    const memory = views[0]?.buffer;
    if (!(memory instanceof SharedArrayBuffer) || views.some((view) => view.buffer !== memory)) {
      throw new TypeError('a pooled buffer set must be views of one SharedArrayBuffer');
    }
    const set: BufferSet = { shape, views, bytes: count * size, inUse: true };
    this.sets.set(memory, set);
    return [...views];
  }

  /**
   * Gives back the set `buffers` came from; every read and write of them must have ended. A set given back
   * twice, or not from this pool, is only let go of.
   */
  give(buffers: readonly Buffer[]): void {
    const memory = buffers[0]?.buffer;
    if (!(memory instanceof SharedArrayBuffer)) return;
    const set = this.sets.get(memory);
    if (set === undefined || !set.inUse) {
      if (set === undefined) this.options.discard(memory);
      return;
    }
    set.inUse = false;
    if (this.idleBytes + set.bytes > this.options.maxIdleBytes) {
      this.sets.delete(memory);
      this.options.discard(memory);
      return;
    }
    this.idleBytes += set.bytes;
    const sets = this.idle.get(set.shape) ?? [];
    sets.push(set);
    this.idle.set(set.shape, sets);
  }
}
