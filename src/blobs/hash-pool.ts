/**
 * The process's pool of threads that compute chunks' SHA-256, reading the chunk where it lies in shared
 * memory (a SharedArrayBuffer the chunk store's allocator gave: the ingest ring, a replication lane's
 * buffers), so nothing is copied. One pool per process, a thread per core: the chunk store sends it every
 * chunk it verifies or names, so one upload or replication is not capped by the main thread's core, and the
 * main thread stays free for the sockets and the disk.
 *
 * One message each way per chunk (the view's buffer, offset and length out; the hex digest back). The
 * whole-stream hashes of an upload (MD5 and `os_hash_value`) are not here: they are one running state each,
 * fed in order, which hash-worker.ts runs on a thread of its own per upload.
 * @module
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { Digest } from '../domain/ids.js';

/**
 * The thread's code, plain CommonJS run with `eval: true`, as in hash-worker.ts (a file-based TypeScript
 * worker would need the tsx loader inside the worker, which Node 20 does not install from `execArgv`).
 */
const WORKER_SOURCE = `'use strict';
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
parentPort.on('message', ({ id, memory, offset, length }) => {
  let digest;
  try {
    digest = createHash('sha256').update(new Uint8Array(memory, offset, length)).digest('hex');
  } catch (error) {
    parentPort.postMessage({ id, error: String(error) });
    return;
  }
  parentPort.postMessage({ id, digest });
});
`;

export interface HashPool {
  /** How many threads hash at once. */
  readonly threads: number;
  /**
   * The SHA-256 of `data` as lower-case hex, computed on a pool thread that reads `data` in place. `data`
   * must be a view of a SharedArrayBuffer (see `isSharedMemory`) and must not change until the promise
   * settles. Rejects if the thread fails or the pool is closed; a failed thread is replaced.
   */
  sha256(data: Uint8Array): Promise<Digest>;
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

interface PoolThread {
  readonly worker: Worker;
  readonly jobs: Map<number, Job>;
}

type Reply = { id: number; digest: string } | { id: number; error: string };

/**
 * Starts `threads` hashing threads (default: one per core the process may use). They are started at once,
 * not on first use, so the process's thread count is settled once the pool exists. An idle pool does not
 * keep the process alive; a thread with work does.
 */
export function createHashPool(threads = availableParallelism()): HashPool {
  let closed = false;
  let nextId = 0;

  function startThread(): PoolThread {
    // execArgv: [] so the thread doesn't load tsx or inspector flags it has no use for.
    const worker = new Worker(WORKER_SOURCE, { eval: true, execArgv: [] });
    const thread: PoolThread = { worker, jobs: new Map() };
    worker.on('message', (reply: Reply) => {
      const job = thread.jobs.get(reply.id);
      if (job === undefined) return;
      thread.jobs.delete(reply.id);
      if (thread.jobs.size === 0) worker.unref();
      if ('digest' in reply) job.resolve(reply.digest as Digest);
      else job.reject(new Error(`hash pool: ${reply.error}`));
    });
    const fail = (error: Error): void => {
      const index = pool.indexOf(thread);
      if (index === -1) return; // already replaced
      if (!closed) pool[index] = startThread();
      for (const job of thread.jobs.values()) job.reject(error);
      thread.jobs.clear();
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
        if (thread.jobs.size === 0) thread.worker.ref();
        thread.jobs.set(id, { resolve, reject });
        thread.worker.postMessage({
          id,
          memory: data.buffer,
          offset: data.byteOffset,
          length: data.byteLength,
        });
      });
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
