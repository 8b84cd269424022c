/**
 * A whole-stream hash (MD5 or SHA-512) computed on its own worker thread over chunks in a SharedArrayBuffer,
 * so ingest can hash three ways at once without copying: the main thread does SHA-256 per chunk and the
 * writes while one worker runs MD5 and another SHA-512 over the same memory.
 * @module
 */
import { Worker } from 'node:worker_threads';

/** The whole-stream hashes Glance reports: `checksum` (MD5) and `os_hash_value` (SHA-512). */
export type StreamHashAlgorithm = 'md5' | 'sha512';

/**
 * The worker's code, plain CommonJS run with `eval: true`. A string rather than a `.ts` file because a
 * file-based TypeScript worker needs the tsx loader inside the worker, which Node 20 does not install from a
 * Worker's `execArgv` (nodejs/node#47747), and a `.js`/`.mjs` file beside the sources is not copied by `tsc`.
 * An eval worker runs the same under tsx and after a build, and starts in ~25 ms without loading tsx.
 *
 * Protocol, in order over one port: `[offset, length]` hashes those bytes of the shared memory and answers
 * `0` once done (the caller may then reuse them); `'digest'` answers `{ digest: <lower-case hex> }`.
 */
const WORKER_SOURCE = `'use strict';
const { parentPort, workerData } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const hash = createHash(workerData.algorithm);
const memory = new Uint8Array(workerData.memory);
parentPort.on('message', (message) => {
  if (message === 'digest') {
    parentPort.postMessage({ digest: hash.digest('hex') });
  } else {
    hash.update(memory.subarray(message[0], message[0] + message[1]));
    parentPort.postMessage(0);
  }
});
`;

/** A running whole-stream hash on a worker thread. Its calls must not overlap `terminate`. */
export interface WorkerHasher {
  /**
   * Adds `memory[offset, offset + length)` to the hash, after everything added before. Resolves once the
   * worker has read those bytes, so the caller may overwrite them; rejects if the worker failed or stopped.
   */
  update(offset: number, length: number): Promise<void>;
  /** The lower-case hex digest of everything added; call once, after the last `update`. */
  digest(): Promise<string>;
  /** Stops the thread and rejects whatever is pending. Idempotent; resolves once the thread is gone. */
  terminate(): Promise<void>;
}

interface Pending {
  resolve(value: unknown): void;
  reject(error: Error): void;
}

/**
 * Starts a worker thread hashing with `algorithm` over `memory`. The thread keeps the process alive until
 * `terminate` is called, so every caller must terminate it in a `finally`.
 */
export function startWorkerHasher(algorithm: StreamHashAlgorithm, memory: SharedArrayBuffer): WorkerHasher {
  // execArgv: [] so the thread doesn't load tsx or inspector flags it has no use for.
  const worker = new Worker(WORKER_SOURCE, { eval: true, execArgv: [], workerData: { algorithm, memory } });
  // Answers come in request order, so one FIFO serves both acks and the digest.
  const pending: Pending[] = [];
  let failure: Error | undefined;

  function failAll(error: Error): void {
    failure ??= error;
    for (const request of pending.splice(0)) request.reject(failure);
  }

  worker.on('message', (message: unknown) => {
    const request = pending.shift();
    if (typeof message === 'object' && message !== null)
      request?.resolve((message as { digest: string }).digest);
    else request?.resolve(undefined);
  });
  worker.on('error', (error) => failAll(error));
  worker.on('exit', (code) => failAll(new Error(`${algorithm} hash worker exited with code ${code}`)));

  function request<T>(message: unknown): Promise<T> {
    if (failure !== undefined) return Promise.reject(failure);
    return new Promise<T>((resolve, reject) => {
      pending.push({ resolve: resolve as (value: unknown) => void, reject });
      worker.postMessage(message);
    });
  }

  return {
    update: (offset, length) => request<void>([offset, length]),
    digest: () => request<string>('digest'),
    async terminate() {
      failAll(new Error(`${algorithm} hash worker stopped`));
      await worker.terminate();
    },
  };
}
