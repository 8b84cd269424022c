/**
 * A whole-stream hash (MD5, or the `os_hash_value` algorithm) computed on its own worker thread over chunks
 * in a SharedArrayBuffer, so ingest can hash three ways at once without copying: while one worker runs MD5
 * and another SHA-512 (or SHA-256) over the same memory, each chunk's own SHA-256 is computed on the hash
 * pool (hash-pool.ts) and the main thread only moves bytes and starts the writes.
 *
 * The main thread and the worker talk through a few shared integers, not messages: the main thread appends
 * `[offset, length]` ranges to a shared queue and bumps a counter; the worker hashes them in order and
 * publishes how many it has done. Nothing is allocated or posted per chunk: the main thread asks for a
 * message (WANT) only when it needs a range back and the worker is behind. (Atomics.waitAsync would do
 * without messages, but in Node 20 its wake-ups from another thread were sometimes lost: an ingest hung with
 * both workers done and the main thread still waiting.) With postMessage, one
 * request and one answer per chunk, the messaging cost 1.2 s of the main thread's time per 2 GiB in a
 * `--cpu-prof` of the upload bench, on a 2-core machine where every core-second counts.
 * @module
 */
import { Worker } from 'node:worker_threads';
import type { OsHashAlgorithm } from '../domain/image.js';

/** The whole-stream hashes Glance reports: `checksum` (MD5) and `os_hash_value` (the deployment's choice). */
export type StreamHashAlgorithm = 'md5' | OsHashAlgorithm;

/** Layout of the shared control block (Int32 indexes); the queue of ranges follows the header. */
const PUSHED = 0; // ranges appended by the main thread
const HASHED = 1; // ranges the worker has hashed (it has read their bytes)
const SIGNAL = 2; // bumped by the main thread on every event; the worker sleeps on it
const FINISH = 3; // 1: no more ranges; digest and stop. 2: stop now (terminate)
const WANT = 4; // 0, or a HASHED count the main thread waits for: the worker posts 'hashed' once it is reached
const SLEEPING = 5; // 1 while the worker sleeps (or is about to) on SIGNAL
const HEADER = 6;

/**
 * A sleeping worker is woken once this many ranges wait for it (or when the main thread waits for it:
 * `whenHashed`, `digest`), not for every range: each wake-up is a futex call and a thread switch, which on
 * the dev VM (2 vCPUs) cost 0.45 s of the main thread per 2 GiB uploaded when both workers were woken for
 * every 1 MiB chunk. Ingest queues up to INGEST_WINDOW (24) ranges, so a batch of 4 keeps both fed.
 */
const WAKE_BATCH = 4;

/**
 * The worker's code, plain CommonJS run with `eval: true`. A string rather than a `.ts` file because a
 * file-based TypeScript worker needs the tsx loader inside the worker, which Node 20 does not install from a
 * Worker's `execArgv` (nodejs/node#47747), and a `.js`/`.mjs` file beside the sources is not copied by `tsc`.
 * An eval worker runs the same under tsx and after a build, and starts in ~25 ms without loading tsx.
 *
 * It hashes queued ranges in order, publishing HASHED after each (and posting 'hashed' when that reaches
 * WANT), sleeps on SIGNAL when the queue is empty, and on FINISH = 1 posts `{ digest }` once the queue is
 * empty and ends.
 */
const WORKER_SOURCE = `'use strict';
const { parentPort, workerData } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const hash = createHash(workerData.algorithm);
const memory = new Uint8Array(workerData.memory);
const control = new Int32Array(workerData.control);
const capacity = workerData.capacity;
let done = 0;
for (;;) {
  const signal = Atomics.load(control, ${SIGNAL});
  if (Atomics.load(control, ${FINISH}) === 2) break;
  if (done < Atomics.load(control, ${PUSHED})) {
    const at = ${HEADER} + 2 * (done % capacity);
    const offset = control[at];
    hash.update(memory.subarray(offset, offset + control[at + 1]));
    Atomics.store(control, ${HASHED}, ++done);
    const want = Atomics.load(control, ${WANT});
    if (want !== 0 && done >= want && Atomics.compareExchange(control, ${WANT}, want, 0) === want) {
      parentPort.postMessage('hashed');
    }
  } else if (Atomics.load(control, ${FINISH}) === 1) {
    parentPort.postMessage({ digest: hash.digest('hex') });
    break;
  } else {
    // Announce the sleep, then sleep unless SIGNAL moved since it was read above (a range queued since).
    Atomics.store(control, ${SLEEPING}, 1);
    Atomics.wait(control, ${SIGNAL}, signal);
    Atomics.store(control, ${SLEEPING}, 0);
  }
}
`;

/** A running whole-stream hash on a worker thread. Its calls must not overlap `terminate`. */
export interface WorkerHasher {
  /**
   * Queues `memory[offset, offset + length)` to be hashed after everything queued before. Returns at once;
   * the bytes must stay unchanged until `hashed()` counts this range. At most `capacity` ranges may be
   * queued and not yet hashed. Throws once the worker has failed or stopped.
   */
  update(offset: number, length: number): void;
  /** How many of the queued ranges the worker has hashed (read their bytes) so far, in queue order. */
  hashed(): number;
  /**
   * Resolves once `hashed() >= count`, or once the worker has failed or stopped (check `failure`): never
   * rejects, so a waiter can't be left with an unhandled rejection.
   */
  whenHashed(count: number): Promise<void>;
  /** The worker's error once it failed or stopped, else undefined. */
  failure(): Error | undefined;
  /** The lower-case hex digest of everything queued; call once, after the last `update`. */
  digest(): Promise<string>;
  /** Stops the thread. Idempotent; resolves once the thread is gone. */
  terminate(): Promise<void>;
}

/**
 * Starts a worker thread hashing with `algorithm` over `memory`, with room for `capacity` queued ranges.
 * The thread keeps the process alive until it ends or `terminate` is called, so every caller must
 * terminate it in a `finally`.
 */
export function startWorkerHasher(
  algorithm: StreamHashAlgorithm,
  memory: SharedArrayBuffer,
  capacity: number,
): WorkerHasher {
  const control = new Int32Array(new SharedArrayBuffer((HEADER + 2 * capacity) * 4));
  // execArgv: [] so the thread doesn't load tsx or inspector flags it has no use for.
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    execArgv: [],
    workerData: { algorithm, memory, control: control.buffer, capacity },
  });
  let pushed = 0;
  let failure: Error | undefined;
  let digestWaiter: { resolve(hex: string): void; reject(error: Error): void } | undefined;
  /** whenHashed callers, each with the HASHED count it waits for. */
  let hashWaiters: Array<{ count: number; resolve(): void }> = [];

  /**
   * Resolves the waiters whose count is reached (all of them once the worker failed), then asks the worker
   * to post when the lowest remaining count is. Store WANT, then load HASHED, against the worker's store
   * HASHED, then load WANT: whichever comes second sees the other's store, so no wake-up is lost (at worst
   * one is spurious, and lands here again).
   */
  function serveHashWaiters(): void {
    for (;;) {
      const hashed = Atomics.load(control, HASHED);
      const ready = hashWaiters.filter((waiter) => failure !== undefined || waiter.count <= hashed);
      if (ready.length > 0) hashWaiters = hashWaiters.filter((waiter) => !ready.includes(waiter));
      for (const waiter of ready) waiter.resolve();
      if (hashWaiters.length === 0) return;
      Atomics.store(control, WANT, Math.min(...hashWaiters.map((waiter) => waiter.count)));
      if (Atomics.load(control, HASHED) === hashed) return;
    }
  }

  function fail(error: Error): void {
    if (failure !== undefined) return;
    failure = error;
    digestWaiter?.reject(error);
    serveHashWaiters();
    // Stops the worker wherever it is (it checks FINISH before each range and sleeps on SIGNAL).
    Atomics.store(control, FINISH, 2);
    Atomics.add(control, SIGNAL, 1);
    Atomics.notify(control, SIGNAL);
  }

  worker.on('message', (message: 'hashed' | { digest: string }) => {
    if (message === 'hashed') serveHashWaiters();
    else digestWaiter?.resolve(message.digest);
  });
  worker.on('error', (error) => fail(error));
  worker.on('exit', (code) => fail(new Error(`${algorithm} hash worker exited with code ${code}`)));

  /**
   * Tells the worker something changed; wakes it if it sleeps and `wake`. Add to SIGNAL, then load SLEEPING,
   * against the worker's store SLEEPING, then wait on SIGNAL's old value: a worker this does not wake sees
   * SIGNAL moved and does not sleep.
   */
  function signal(wake: boolean): void {
    Atomics.add(control, SIGNAL, 1);
    if (wake && Atomics.load(control, SLEEPING) === 1) Atomics.notify(control, SIGNAL);
  }

  return {
    update(offset, length) {
      if (failure !== undefined) throw failure;
      if (pushed - Atomics.load(control, HASHED) >= capacity) {
        throw new Error(`${algorithm} hash worker: more than ${capacity} ranges queued`);
      }
      const at = HEADER + 2 * (pushed % capacity);
      control[at] = offset;
      control[at + 1] = length;
      Atomics.store(control, PUSHED, ++pushed);
      signal(pushed - Atomics.load(control, HASHED) >= WAKE_BATCH);
    },
    hashed: () => Atomics.load(control, HASHED),
    whenHashed(count) {
      if (failure !== undefined || Atomics.load(control, HASHED) >= count) return Promise.resolve();
      return new Promise<void>((resolve) => {
        hashWaiters.push({ count, resolve });
        serveHashWaiters();
        signal(true); // it may sleep on fewer than WAKE_BATCH ranges
      });
    },
    failure: () => failure,
    digest() {
      if (failure !== undefined) return Promise.reject(failure);
      return new Promise<string>((resolve, reject) => {
        digestWaiter = { resolve, reject };
        Atomics.store(control, FINISH, 1);
        signal(true);
      });
    },
    async terminate() {
      fail(new Error(`${algorithm} hash worker stopped`));
      await worker.terminate();
    },
  };
}
