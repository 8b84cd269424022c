/**
 * One run of a destination worker at a replication job: fetch the source's manifest under the job's grant
 * (a whole-server image's: each disk's, planned as one transfer, the disks' backups completed in their vault),
 * work out which chunks this region lacks, fetch only those (bounded parallelism, optional bandwidth cap (kept by the source),
 * every chunk's SHA-256 verified on arrival by the chunk store), save progress as it goes, verify the whole
 * image against the manifest, and make the image active.
 *
 * Why the end check is enough: the manifest's own SHA-256 equals the digest the source gave when the job was
 * created, its size equals the source image's size, and every chunk it lists is stored under its verified
 * SHA-256. So the image's bytes are the source's bytes, and the source's MD5 `checksum` and `os_hash_value`
 * (with its `os_hash_algo`, whatever this region's setting) hold without hashing the whole image again.
 *
 * A run ends one of three ways: success; a transient failure (source unreachable, timeout, corrupt chunk or
 * manifest bytes): the job is released to run again after a backoff, keeping every chunk stored so far; or a
 * permanent one (grant revoked, a manifest of another size, runs exhausted): the job ends FAIL and its image
 * is removed.
 * @module
 */
import { createHash } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import type { ChunkHold } from '../blobs/chunk-store.js';
import { coerceError } from '../domain/errors.js';
import { JOB_TASKS, retryDelayMs } from '../domain/job.js';
import { parseManifest, type Manifest } from '../domain/manifest.js';
import { chunksHeldByAccount, createChunkRecorder } from '../store/account-chunks.js';
import { timestamp } from '../store/clock.js';
import { deleteImage, transitionImage } from '../store/images.js';
import { addPendingMembers } from '../store/members.js';
import { markBackupsAvailable } from '../store/vaults.js';
import { MILESTONES } from './events.js';
import { findJob, releaseJob, updateJob, type JobRow, type JobUpdate } from '../store/jobs.js';
import { fetchInLanes } from './fetch-lanes.js';
import { notifySource } from './source-jobs.js';
import { cancelReplica } from './replicas.js';
import { isStorageFull } from '../blobs/driver.js';
import { jobDisks, PEER_CALLS } from './peer-api.js';
import { manifestChunks, mergeManifestChunks, planTransfer } from './transfer-plan.js';
import type { RegionContext } from '../region/context.js';
import { GRANT_HEADER, RegionCallError, requestIdHeaders } from './region-call.js';

/** How often a run saves its progress and renews its lease (default: 500 ms). */
export const PROGRESS_INTERVAL_MS = 500;

class PermanentFailure extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * A transient failure with the code the job ends with if no run is left: the error a run met is named, not
 * only REPLICATION_FAILED.
 */
class RetriedFailure extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** The run lost its lease or the job was cancelled: stop quietly, someone else owns the outcome. */
class Stopped extends Error {}

interface Counters {
  transferred: number;
  skippedPresent: number;
  skippedZero: number;
}

export async function runTransfer(
  ctx: RegionContext,
  claimed: JobRow,
  log: FastifyBaseLogger,
  stopSignal?: AbortSignal,
): Promise<void> {
  const job = { ...claimed };
  const worker = ctx.workerId;
  const abort = new AbortController();
  /** The worker took the run back (it stops, or another job's turn has come): no failure of the job's. */
  let interrupted = false;
  const onStop = () => {
    interrupted = true;
    abort.abort(new Stopped('the worker interrupted the run'));
  };
  stopSignal?.addEventListener('abort', onStop, { once: true });
  const leaseUntil = () => new Date(ctx.clock.now().getTime() + ctx.replication.leaseMs).toISOString();
  let milestonesTold = 0;
  const save = async (update: JobUpdate) => {
    const ok = await updateJob(
      ctx.db,
      job.id,
      { worker },
      {
        ...update,
        lease_until: leaseUntil(),
        updated_at: timestamp(ctx.clock),
      },
    );
    if (!ok) {
      abort.abort(new Stopped('lease lost or job cancelled'));
      throw new Stopped('lease lost or job cancelled');
    }
    // The source records a milestone's event when it learns of it: tell it as each is passed, not only at the end.
    const done =
      (update.bytes_transferred ?? 0) +
      (update.bytes_skipped_present ?? 0) +
      (update.bytes_skipped_zero ?? 0);
    const passed = MILESTONES.filter(
      (m) => job.bytes_total > 0 && (done / job.bytes_total) * 100 >= m,
    ).length;
    if (passed > milestonesTold) {
      milestonesTold = passed;
      void notifySource(ctx, job.id).catch(() => undefined);
    }
  };

  const counters: Counters = { transferred: job.bytes_transferred, skippedPresent: 0, skippedZero: 0 };
  let hold: ChunkHold | undefined;
  const runStartTransferred = job.bytes_transferred;
  const runStarted = performance.now();
  const progress = () => ({
    bytes_transferred: counters.transferred,
    bytes_skipped_present: counters.skippedPresent,
    bytes_skipped_zero: counters.skippedZero,
    bytes_per_second: Math.round(
      (counters.transferred - runStartTransferred) / Math.max(0.001, (performance.now() - runStarted) / 1000),
    ),
  });

  try {
    await save({
      status: 'RUNNING',
      attempts: job.attempts + 1,
      current_task: JOB_TASKS.fetchManifest,
    });
    job.attempts += 1;
    // A whole-server image's disks are one transfer: their chunks are planned together (a chunk two disks
    // share is fetched once) and the job's bytes are theirs all.
    const manifests = await fetchManifests(ctx, job, abort.signal);
    // Stored before their chunks, as this job's garbage-collection roots: what arrives is kept across restarts.
    // The image stays `saving` until every chunk is verified present, so nothing incomplete becomes active.
    for (const manifest of manifests) await ctx.chunks.putManifest(manifest);

    // What is here already, what is zero, what must come over (transfer-plan.ts).
    const chunks = mergeManifestChunks(manifests.map(manifestChunks));
    counters.skippedZero = chunks.zeroBytes;
    const digests = [...chunks.chunks.keys()];
    // Every chunk of the manifests is held from garbage collection until the image is active: the manifests,
    // stored above, are roots only for collections that list their roots after this.
    hold = ctx.chunks.hold();
    for (const digest of digests) hold.add(digest);
    // Only chunks this account holds here are skipped (store/account-chunks.ts says why), among them those
    // earlier runs of this job stored; any other chunk is fetched, even if another account's image has it.
    const absent = new Set(await ctx.chunks.missingChunks(digests));
    const held = await chunksHeldByAccount(ctx.db, job.account_id, digests);
    const needed = new Set(digests.filter((digest) => absent.has(digest) || !held.has(digest)));
    const plan = planTransfer(chunks, needed, ctx.replication.chunksPerRequest);
    // Chunks this job sent in earlier runs are present now; count them as transferred, not as skipped.
    counters.skippedPresent = Math.max(0, plan.presentBytes - job.bytes_transferred);
    await save({ ...progress(), current_task: JOB_TASKS.fetchChunks });

    const recorder = createChunkRecorder(ctx.db, job.account_id, () => ctx.chunks.flush());
    const lease = keepLease(() => save(progress()), abort.signal);
    try {
      await fetchInLanes(ctx, {
        jobId: job.id,
        sourceRegion: job.source_region,
        grantSecret: job.grant_secret ?? '',
        requestId: job.request_id,
        bandwidthLimit: job.bandwidth_limit,
        batches: plan.batches,
        chunkLength: (digest) => chunks.chunks.get(digest)!.length,
        chunkSize: manifests[0]!.chunkSize,
        onStored: (digest, length) => {
          recorder.add(digest);
          counters.transferred += length;
          ctx.metrics.replicationReceivedBytes.inc(length);
        },
        signal: abort.signal,
        log,
      });
    } catch (error) {
      abort.abort(error);
      await recorder.flush().catch(() => undefined); // what was stored is kept for the next run
      throw classify(error);
    } finally {
      await lease.stop();
    }
    await recorder.flush();

    await save({ ...progress(), current_task: JOB_TASKS.verify });
    const stillMissing = await ctx.chunks.missingChunks(digests);
    if (stillMissing.length > 0)
      throw new Error(`${stillMissing.length} chunks are missing after the transfer`);
    for (const manifest of manifests) await ctx.chunks.putManifest(manifest);

    const now = timestamp(ctx.clock);
    // A whole-server image's backups are complete in their vault before the image is active.
    await markBackupsAvailable(ctx.db, job.dest_image_id!);
    // Shared before it is active (share_with), so that nobody it is shared with finds it active but unshared.
    await addPendingMembers(ctx.db, job.dest_image_id!, JSON.parse(job.share_with ?? '[]') as string[], now);
    const activated = await transitionImage(ctx.db, job.dest_image_id!, 'saving', 'active', now);
    if (!activated) throw new Stopped('the image left saving (cancelled)');
    await save({
      ...progress(),
      status: 'SUCCESS',
      current_task: '',
      end_time: now,
      fail_reason: null,
      error_code: null,
    });
    await releaseJob(ctx.db, job.id, worker, {});
    log.info({ job: job.id, image: job.dest_image_id, ...progress() }, 'replication finished');
  } catch (error) {
    const stopped = error instanceof Stopped || abort.signal.reason instanceof Stopped;
    abort.abort(error);
    if (stopped) {
      // Someone else decides this job's outcome (cancel, lease takeover) or it resumes at the next start.
      await releaseJob(ctx.db, job.id, worker, {
        ...progress(),
        run_at: timestamp(ctx.clock),
        ...(interrupted ? { attempts: claimed.attempts, current_task: JOB_TASKS.queued } : {}),
      });
      return;
    }
    await failRun(ctx, job, error, progress(), log);
  } finally {
    hold?.release();
    stopSignal?.removeEventListener('abort', onStop);
  }
  await notifySource(ctx, job.id).catch(() => undefined);
}

/** The manifests the job brings over, each checked against what the source promised when the job began. */
async function fetchManifests(ctx: RegionContext, job: JobRow, signal: AbortSignal): Promise<Manifest[]> {
  const disks = jobDisks(job);
  if (disks === null) {
    return [await fetchManifest(ctx, job, { digest: job.manifest_digest, size: job.bytes_total }, signal)];
  }
  const manifests: Manifest[] = [];
  for (const [index, disk] of disks.entries()) {
    manifests.push(
      await fetchManifest(ctx, job, { digest: disk.manifest_digest, size: disk.size, index }, signal),
    );
  }
  const total = manifests.reduce((sum, m) => sum + m.size, 0);
  if (total !== job.bytes_total) {
    throw new PermanentFailure(
      'MANIFEST_MISMATCH',
      `the disks hold ${total} bytes, expected ${job.bytes_total}`,
    );
  }
  return manifests;
}

async function fetchManifest(
  ctx: RegionContext,
  job: JobRow,
  expected: { digest: string | null; size: number; index?: number },
  signal: AbortSignal,
): Promise<Manifest> {
  let bytes: Buffer;
  const path = PEER_CALLS.grantManifest.path(job.id);
  try {
    bytes = await ctx.regions.getBytes(
      job.source_region,
      expected.index === undefined ? path : `${path}?disk=${expected.index}`,
      { [GRANT_HEADER]: job.grant_secret ?? '', ...requestIdHeaders(job.request_id) },
      signal,
    );
  } catch (error) {
    throw classify(error);
  }
  const digest = createHash('sha256').update(bytes).digest('hex');
  if (digest !== expected.digest) {
    // The source serves the manifest it holds under that digest: other bytes were most likely damaged on the
    // way (plain HTTP between regions has no integrity check of its own), so the manifest is fetched again.
    throw new RetriedFailure(
      'MANIFEST_MISMATCH',
      `the source's manifest arrived as ${digest}, expected ${expected.digest}`,
    );
  }
  const manifest = parseManifest(bytes);
  if (manifest.size !== expected.size) {
    throw new PermanentFailure(
      'MANIFEST_MISMATCH',
      `the manifest describes ${manifest.size} bytes, expected ${expected.size}`,
    );
  }
  return manifest;
}

/** A refusal from the source is permanent (its grant was revoked or the image is gone); the rest is transient. */
function classify(error: unknown): unknown {
  if (error instanceof RegionCallError && !error.transient) {
    return new PermanentFailure(error.code ?? 'SOURCE_REFUSED', `the source refused: ${error.message}`);
  }
  return error;
}

async function failRun(
  ctx: RegionContext,
  job: JobRow,
  error: unknown,
  progress: Record<string, number>,
  log: FastifyBaseLogger,
): Promise<void> {
  const reason = coerceError(error).message;
  const now = ctx.clock.now();
  const permanent = error instanceof PermanentFailure;
  const current = await findJob(ctx.db, job.id);
  if (!current || current.locked_by !== ctx.workerId) return;
  if (permanent && error.code === 'GRANT_REVOKED') {
    // The source revoked the grant: the job was cancelled there, before (or without) telling this region.
    log.info({ job: job.id }, 'replication cancelled in the source region');
    await cancelReplica(ctx, current, `cancelled in ${job.source_region}`);
    return;
  }
  // A full disk here is this region's, not the source's fault: the run is retried (space may come back), and a
  // job that runs out of tries says so with the code an upload into a full region gets.
  const full = isStorageFull(error);
  const told = full ? `this region's image storage is full (${reason})` : reason;
  if (!permanent && job.attempts < job.max_attempts) {
    const runAt = new Date(
      now.getTime() + retryDelayMs(job.attempts, ctx.replication.retryBaseMs),
    ).toISOString();
    log.warn({ job: job.id, attempt: job.attempts, err: told }, 'replication run failed; will retry');
    await releaseJob(ctx.db, job.id, ctx.workerId, {
      ...progress,
      run_at: runAt,
      current_task: JOB_TASKS.waitingToRetry,
      fail_reason: `attempt ${job.attempts} of ${job.max_attempts} failed: ${told}`,
      updated_at: now.toISOString(),
    });
    return;
  }
  log.error({ job: job.id, err: told }, 'replication failed');
  const code = permanent
    ? error.code
    : full
      ? 'STORAGE_FULL'
      : error instanceof RetriedFailure
        ? error.code
        : 'REPLICATION_FAILED';
  const ended = await updateJob(
    ctx.db,
    job.id,
    { worker: ctx.workerId },
    {
      ...progress,
      status: 'FAIL',
      error_code: code,
      fail_reason: told,
      current_task: '',
      end_time: now.toISOString(),
      updated_at: now.toISOString(),
    },
  );
  if (ended && job.dest_image_id) await deleteImage(ctx.db, job.dest_image_id, now.toISOString());
  await releaseJob(ctx.db, job.id, ctx.workerId, {});
}

/** Waits `ms`, or rejects when `signal` aborts; leaves no listener on `signal` either way (one per retry). */

/**
 * Saves progress and renews the lease on a clock rather than as chunks arrive: under a low bandwidth cap one
 * chunk may take longer than the lease, which must not lapse (another run would take the job over), while a
 * cancel must still be seen within PROGRESS_INTERVAL_MS. A failed save has aborted the run already (lease
 * lost, job cancelled: `save` aborts it); the ticker stops with the run.
 */
function keepLease(save: () => Promise<void>, signal: AbortSignal): { stop(): Promise<void> } {
  let saving: Promise<void> | undefined;
  const ticker = setInterval(() => {
    saving ??= save()
      .catch(() => undefined)
      .finally(() => (saving = undefined));
  }, PROGRESS_INTERVAL_MS);
  signal.addEventListener('abort', () => clearInterval(ticker), { once: true });
  return {
    async stop() {
      clearInterval(ticker);
      await saving;
    },
  };
}
