/**
 * The process's pool of threads that compute chunks' SHA-256, reading the chunk where it lies in shared
 * memory (a SharedArrayBuffer the chunk store's allocator gave: the ingest ring, a replication lane's
 * buffers), so nothing is copied. One pool per process, a thread per core: the chunk store sends it every
 * chunk it verifies or names, so one upload or replication is not capped by the main thread's core, and the
 * main thread stays free for the sockets and the disk.
 *
 * One message each way per chunk (the view's buffer, offset and length out; the hex digest back). The
 * whole-stream hashes of an upload (MD5 and `os_hash_value`) run here too, as streams: one running state
 * each on one thread, fed ranges of the upload's ring in order, one message each way per range. They used
 * to run on two threads of each upload's own, with the ranges passed through shared integers (no message):
 * a thread costs ~9 MiB, so 8 uploads at once took a region process from 114 MiB to 494 MiB, and 32 would
 * have taken 1.5 GiB.
 * @module
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { Digest } from '../domain/ids.js';
import type { OsHashAlgorithm } from '../domain/image.js';

/**
 * The thread's code, plain CommonJS run with `eval: true` (a file-based TypeScript
 * worker would need the tsx loader inside the worker, which Node 20 does not install from `execArgv`).
 */
const WORKER_SOURCE = `'use strict';
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const { setFlagsFromString } = require('node:v8');
const { runInNewContext } = require('node:vm');
const { readlinkSync } = require('node:fs');
const { constants, setPriority } = require('node:os');
const streams = new Map();
const memories = new Map();
// Hashing yields the cores to the main thread: this thread's nice value is raised (Linux keeps it per
// thread, and /proc/thread-self names this thread's id). Its work waits on nothing but a core; the main
// thread's event loop serves every socket and disk completion, and behind hash threads at equal priority it
// waited 20-70 ms for a core in a replication with a scrub running (bench event-loop rows).
try {
  setPriority(Number(readlinkSync('/proc/thread-self').split('/').pop()), constants.priority.PRIORITY_BELOW_NORMAL);
} catch {
  // Not Linux: equal priority.
}
// A shared memory this thread let go of stays alive until this thread's heap is collected, and a thread that
// allocates this little seldom collects: without this, every upload's ring and every lane's buffers stayed
// (+25-35 MiB of RSS per bench round, both regions, round after round). So the thread collects once after
// letting go of memory (a few ms on this thread; the main thread is not involved). --expose-gc only adds gc
// to contexts made from now on, the one made here included.
setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc');
let collectionDue = false;
function collectSoon() {
  if (collectionDue) return;
  collectionDue = true;
  setImmediate(() => {
    collectionDue = false;
    collectGarbage();
  });
}
parentPort.on('message', (message) => {
  const { id, stream } = message;
  if (message.register !== undefined) {
    memories.set(message.register, message.memory);
    return;
  }
  if (message.forget !== undefined) {
    memories.delete(message.forget);
    collectSoon();
    return;
  }
  if (stream === undefined) {
    let digest;
    try {
      const memory = memories.get(message.memory);
      digest = createHash('sha256').update(new Uint8Array(memory, message.offset, message.length)).digest('hex');
    } catch (error) {
      parentPort.postMessage({ id, error: String(error) });
      return;
    }
    parentPort.postMessage({ id, digest });
    return;
  }
  try {
    if (message.open !== undefined) {
      streams.set(stream, { hash: createHash(message.open), memory: new Uint8Array(message.memory) });
    } else if (message.drop) {
      streams.delete(stream);
      collectSoon();
    } else if (message.digest) {
      const state = streams.get(stream);
      streams.delete(stream);
      collectSoon();
      parentPort.postMessage({ stream, digest: state.hash.digest('hex') });
    } else {
      const state = streams.get(stream);
      state.hash.update(state.memory.subarray(message.offset, message.offset + message.length));
      parentPort.postMessage({ stream, hashed: true });
    }
  } catch (error) {
    streams.delete(stream);
    collectSoon();
    parentPort.postMessage({ stream, error: String(error) });
  }
});
`;

/** The whole-stream hashes Glance reports: `checksum` (MD5) and `os_hash_value` (the deployment's choice). */
export type StreamHashAlgorithm = 'md5' | OsHashAlgorithm;

/**
 * A whole-stream hash (MD5, or the `os_hash_value` algorithm) running on one of the pool's threads over
 * ranges of a SharedArrayBuffer, in the order they were queued.
 */
export interface StreamHasher {
  /**
   * Queues `memory[offset, offset + length)` to be hashed after everything queued before. Returns at once;
   * the bytes must stay unchanged until `hashed()` counts this range. Throws once the stream has failed.
   */
  update(offset: number, length: number): void;
  /** How many of the queued ranges have been hashed (their bytes read) so far, in queue order. */
  hashed(): number;
  /** Resolves once `hashed() >= count`, or once the stream failed (check `failure`); never rejects. */
  whenHashed(count: number): Promise<void>;
  /** The stream's error once it failed or was dropped, else undefined. */
  failure(): Error | undefined;
  /** The lower-case hex digest of everything queued; call once, after the last `update`. */
  digest(): Promise<string>;
  /** Forgets the stream (its thread drops its state). Idempotent. */
  drop(): void;
}

export interface HashPool {
  /** How many threads hash at once. */
  readonly threads: number;
  /**
   * The SHA-256 of `data` as lower-case hex, computed on a pool thread that reads `data` in place. `data`
   * must be a view of a SharedArrayBuffer (see `isSharedMemory`) and must not change until the promise
   * settles. Rejects if the thread fails or the pool is closed; a failed thread is replaced.
   */
  sha256(data: Uint8Array): Promise<Digest>;
  /**
   * A whole-stream hash over `memory` on one of the pool's threads (the next one in turn, so an upload's
   * MD5 and `os_hash_value` run on two cores). One message each way per range: an upload holds no thread
   * of its own, so uploads at once cost the process no threads (each used to start two, ~9 MiB each).
   */
  stream(algorithm: StreamHashAlgorithm, memory: SharedArrayBuffer): StreamHasher;
  /**
   * Lets the threads forget `memory`, which its owner no longer uses (a replication lane's buffers, an
   * upload's ring, once they are done): a thread holds each memory it was sent until told, or until this
   * process collects it, which with a large heap may be many jobs later (a region's memory grew by the
   * lanes' buffers, job after job, until it did). Hashes of it already asked for still complete.
   */
  forget(memory: SharedArrayBuffer): void;
  /** Stops every thread; hashes not done reject. Idempotent. */
  close(): Promise<void>;
}

/** Whether `data` lies in shared memory, which the pool's threads can read without a copy. */
export function isSharedMemory(data: Uint8Array): boolean {
  return data.buffer instanceof SharedArrayBuffer;
}

interface Job {
  resolve(digest: Digest): void;
  reject(error: Error): void;
}

interface StreamState {
  hashed: number;
  failure: Error | undefined;
  waiters: Array<{ count: number; resolve(): void }>;
  digest: { resolve(hex: string): void; reject(error: Error): void } | undefined;
}

interface PoolThread {
  readonly worker: Worker;
  readonly jobs: Map<number, Job>;
  /**
   * Shared memories the thread knows by number. A SharedArrayBuffer in a message costs the sender ~150 µs
   * (0.16 s of a replication destination's main thread per GiB, one per chunk, in a `--cpu-prof`), so each
   * memory (a lane's buffers, an upload's ring) is sent to a thread once, then named; the thread lets go of
   * it once this process has collected it (a WeakMap here, a FinalizationRegistry to tell the thread).
   */
  readonly memories: WeakMap<SharedArrayBuffer, number>;
  /** Streams on this thread, with the ranges queued and not yet hashed (what keeps the thread busy). */
  readonly streams: Map<number, StreamState>;
  queued: number;
}

type Reply =
  | { id: number; digest: string }
  | { id: number; error: string }
  | { stream: number; hashed: true }
  | { stream: number; digest: string }
  | { stream: number; error: string };

/**
 * Starts `threads` hashing threads (default: one per core the process may use). They are started at once,
 * not on first use, so the process's thread count is settled once the pool exists. An idle pool does not
 * keep the process alive; a thread with work does.
 */
export function createHashPool(threads = availableParallelism()): HashPool {
  let closed = false;
  let nextId = 0;
  let nextStream = 0;

  function busy(thread: PoolThread): number {
    return thread.jobs.size + thread.queued;
  }

  /** An idle pool does not keep the process alive; a thread with work does. */
  function settle(thread: PoolThread, before: number): void {
    const after = busy(thread);
    if (before === 0 && after > 0) thread.worker.ref();
    else if (before > 0 && after === 0) thread.worker.unref();
  }

  function failStream(state: StreamState, error: Error): void {
    if (state.failure !== undefined) return;
    state.failure = error;
    state.digest?.reject(error);
    for (const waiter of state.waiters) waiter.resolve();
    state.waiters = [];
  }

  function onStreamReply(thread: PoolThread, reply: Exclude<Reply, { id: number }>): void {
    const state = thread.streams.get(reply.stream);
    if (state === undefined) return; // dropped
    if ('hashed' in reply) {
      const before = busy(thread);
      thread.queued--;
      settle(thread, before);
      state.hashed++;
      const ready = state.waiters.filter((waiter) => waiter.count <= state.hashed);
      state.waiters = state.waiters.filter((waiter) => waiter.count > state.hashed);
      for (const waiter of ready) waiter.resolve();
    } else {
      thread.streams.delete(reply.stream);
      if (state.digest !== undefined) {
        const before = busy(thread);
        thread.queued--; // the digest asked for
        settle(thread, before);
      }
      if ('digest' in reply) state.digest?.resolve(reply.digest);
      else failStream(state, new Error(`hash pool: ${reply.error}`));
    }
  }

  let nextMemory = 0;
  const collected = new FinalizationRegistry<{ thread: PoolThread; number: number }>(({ thread, number }) => {
    if (!closed) thread.worker.postMessage({ forget: number });
  });

  /** The number `thread` knows `memory` by, sending it first if it does not. */
  function memoryNumber(thread: PoolThread, memory: SharedArrayBuffer): number {
    let number = thread.memories.get(memory);
    if (number === undefined) {
      number = nextMemory++;
      thread.worker.postMessage({ register: number, memory });
      thread.memories.set(memory, number);
      collected.register(memory, { thread, number }, memory);
    }
    return number;
  }

  function startThread(): PoolThread {
    // execArgv: [] so the thread doesn't load tsx or inspector flags it has no use for.
    const worker = new Worker(WORKER_SOURCE, { eval: true, execArgv: [] });
    const thread: PoolThread = {
      worker,
      jobs: new Map(),
      memories: new WeakMap(),
      streams: new Map(),
      queued: 0,
    };
    worker.on('message', (reply: Reply) => {
      if ('stream' in reply) return onStreamReply(thread, reply);
      const job = thread.jobs.get(reply.id);
      if (job === undefined) return;
      const before = busy(thread);
      thread.jobs.delete(reply.id);
      settle(thread, before);
      if ('digest' in reply) job.resolve(reply.digest as Digest);
      else job.reject(new Error(`hash pool: ${reply.error}`));
    });
    const fail = (error: Error): void => {
      const index = pool.indexOf(thread);
      if (index === -1) return; // already replaced
      if (!closed) pool[index] = startThread();
      for (const job of thread.jobs.values()) job.reject(error);
      thread.jobs.clear();
      for (const state of thread.streams.values()) failStream(state, error);
      thread.streams.clear();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`hash pool thread exited with code ${code}`)));
    // After the listeners: adding a 'message' listener refs the worker again.
    worker.unref();
    return thread;
  }

  const pool = Array.from({ length: Math.max(1, threads) }, startThread);

  return {
    threads: pool.length,

    sha256(data) {
      if (closed) return Promise.reject(new Error('the hash pool is closed'));
      if (!isSharedMemory(data)) {
        return Promise.reject(
          new TypeError('the hash pool reads shared memory only (a SharedArrayBuffer view)'),
        );
      }
      // The least busy thread: chunks of one job spread over every core.
      let thread = pool[0]!;
      for (const candidate of pool) if (candidate.jobs.size < thread.jobs.size) thread = candidate;
      const id = nextId++;
      return new Promise<Digest>((resolve, reject) => {
        const before = busy(thread);
        thread.jobs.set(id, { resolve, reject });
        settle(thread, before);
        thread.worker.postMessage({
          id,
          memory: memoryNumber(thread, data.buffer as SharedArrayBuffer),
          offset: data.byteOffset,
          length: data.byteLength,
        });
      });
    },

    forget(memory) {
      for (const thread of pool) {
        const number = thread.memories.get(memory);
        if (number === undefined) continue;
        thread.memories.delete(memory);
        collected.unregister(memory);
        thread.worker.postMessage({ forget: number });
      }
    },

    stream(algorithm, memory) {
      const thread = pool[nextStream++ % pool.length]!;
      const stream = nextId++;
      const state: StreamState = { hashed: 0, failure: undefined, waiters: [], digest: undefined };
      if (closed) state.failure = new Error('the hash pool is closed');
      else {
        thread.streams.set(stream, state);
        thread.worker.postMessage({ stream, open: algorithm, memory });
      }
      let pushed = 0;
      return {
        update(offset, length) {
          if (state.failure !== undefined) throw state.failure;
          const before = busy(thread);
          thread.queued++;
          settle(thread, before);
          pushed++;
          thread.worker.postMessage({ stream, offset, length });
        },
        hashed: () => state.hashed,
        whenHashed(count) {
          if (state.failure !== undefined || state.hashed >= count) return Promise.resolve();
          return new Promise<void>((resolve) => state.waiters.push({ count, resolve }));
        },
        failure: () => state.failure,
        digest() {
          if (state.failure !== undefined) return Promise.reject(state.failure);
          return new Promise<string>((resolve, reject) => {
            state.digest = { resolve, reject };
            const before = busy(thread);
            thread.queued++; // the thread keeps the process alive until it answers
            settle(thread, before);
            thread.worker.postMessage({ stream, digest: true });
          });
        },
        drop() {
          if (!thread.streams.delete(stream)) return;
          const before = busy(thread);
          thread.queued -= pushed - state.hashed + (state.digest === undefined ? 0 : 1);
          settle(thread, before);
          failStream(state, new Error(`the ${algorithm} stream was dropped`));
          thread.worker.postMessage({ stream, drop: true });
        },
      };
    },

    async close() {
      if (closed) return;
      closed = true;
      await Promise.all(pool.map((thread) => thread.worker.terminate()));
    },
  };
}

let processPool: HashPool | undefined;

/**
 * The process's pool, started on first use and kept for the life of the process (its idle threads do not
 * keep it alive). Every chunk store of the process shares it, so regions run in one process (`ferry local`
 * in tests) do not each start a thread per core.
 */
export function processHashPool(): HashPool {
  processPool ??= createHashPool();
  return processPool;
}
