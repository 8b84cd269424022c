/**
 * The fetch of a run's chunk batches over `parallelFetches` lanes. Each lane is a connection to the source
 * with two chunk buffers from the store (the fs driver's are aligned, so each chunk is written from where it
 * was received; shared, so the hash pool verifies it there too, on another core), and takes the next batch
 * until none is left; each batch is one request, streamed to disk as it arrives (chunk-batch.ts).
 *
 * A batch that fails transiently (region-call.ts `isTransient`) is asked again for the chunks it has not
 * stored yet, after a backoff. Its count of tries starts again whenever a try stored something, so only
 * `chunkAttempts` tries in a row that store nothing fail the run.
 * @module
 */
import type { FastifyBaseLogger } from 'fastify';
import { coerceError } from '../domain/errors.js';
import type { Digest } from '../domain/ids.js';
import { retryDelayMs } from '../domain/job.js';
import type { RegionContext } from '../region/context.js';
import type { BatchConnection } from './batch-connection.js';
import { ChunkReceiver } from './chunk-batch.js';
import { PEER_CALLS, type ChunkBatchRequest } from './peer-api.js';
import { GRANT_HEADER, isTransient, requestIdHeaders } from './region-call.js';

export interface FetchLanesOptions {
  readonly jobId: string;
  readonly sourceRegion: string;
  readonly grantSecret: string;
  /** The user request the job serves, sent along so the source logs its reads under it. */
  readonly requestId: string | null;
  /** The job's cap in bytes per second (kept by the source), or null. */
  readonly bandwidthLimit: number | null;
  readonly batches: readonly Digest[][];
  readonly chunkLength: (digest: Digest) => number;
  /** The manifest's chunk size: the size of each lane's buffers. */
  readonly chunkSize: number;
  /** A chunk was stored (verified): called once per chunk, as it happens. */
  readonly onStored: (digest: Digest, length: number) => void;
  /** Stops every lane; the call rejects with its reason. */
  readonly signal: AbortSignal;
  readonly log: FastifyBaseLogger;
}

/** Resolves once every batch is stored; rejects with the first failure (the other lanes are left to end). */
export async function fetchInLanes(
  ctx: Pick<RegionContext, 'chunks' | 'regions' | 'replication'>,
  options: FetchLanesOptions,
): Promise<void> {
  const { batches, signal } = options;
  const stored = new Set<Digest>();
  const fetchBatch = async (batch: Digest[], connection: BatchConnection, buffers: [Buffer, Buffer]) => {
    let remaining = batch;
    for (let attempt = 1; ; attempt++) {
      try {
        const receiver = new ChunkReceiver(
          remaining.map((digest) => ({ digest, length: options.chunkLength(digest) })),
          ctx.chunks,
          {
            buffers,
            onStored: ({ digest, length }) => {
              stored.add(digest);
              options.onStored(digest, length);
            },
          },
        );
        const body: ChunkBatchRequest = { digests: remaining, bytes_per_second: options.bandwidthLimit };
        await connection.post(PEER_CALLS.grantChunks.path(options.jobId), body, receiver, signal);
        return;
      } catch (error) {
        if (signal.aborted) throw signal.reason;
        if (!isTransient(error)) throw error;
        const left = remaining.filter((digest) => !stored.has(digest));
        if (left.length < remaining.length) attempt = 1; // it moved on: count tries from here
        remaining = left;
        if (attempt >= ctx.replication.chunkAttempts) throw error;
        options.log.warn(
          { job: options.jobId, attempt, chunksLeft: remaining.length, err: coerceError(error).message },
          'chunk batch failed; retrying',
        );
        await sleep(retryDelayMs(attempt, ctx.replication.retryBaseMs), signal);
      }
    }
  };
  let next = 0;
  const lane = async () => {
    const [first, second] = await ctx.chunks.allocateChunkBuffers(2, options.chunkSize, { shared: true });
    const buffers: [Buffer, Buffer] = [first!, second!];
    const connection = ctx.regions.batchConnection(options.sourceRegion, {
      [GRANT_HEADER]: options.grantSecret,
      ...requestIdHeaders(options.requestId),
    });
    try {
      while (next < batches.length) await fetchBatch(batches[next++]!, connection, buffers);
    } finally {
      connection.close();
      ctx.chunks.releaseChunkBuffers(buffers);
    }
  };
  const lanes = Array.from({ length: Math.min(ctx.replication.parallelFetches, batches.length) }, lane);
  const failed = (await Promise.allSettled(lanes)).find(
    (result): result is PromiseRejectedResult => result.status === 'rejected',
  );
  if (failed) throw failed.reason;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
