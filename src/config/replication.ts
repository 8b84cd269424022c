/**
 * Replication settings of a deployment, with their defaults. Tests shorten the timings.
 * @module
 */
import { DEFAULT_REPLICATION_LIMITS, type ReplicationLimits } from '../domain/replication-rules.js';

/** Most chunks one batch request may ask for: 64 MiB of 1 MiB chunks. */
export const MAX_CHUNKS_PER_REQUEST = 64;

export interface ReplicationSettings {
  limits: ReplicationLimits;
  /** How long a worker's claim on a job lasts without renewal (default: 30 s). */
  leaseMs: number;
  /** How often an idle worker looks for work (default: 500 ms). */
  pollMs: number;
  /** Jobs one region process runs at once (default: 2). */
  concurrentJobs: number;
  /**
   * How long a run keeps its slot while other jobs wait for one (default: 60 s): it then gives the job back,
   * which runs again after those, from what it has stored. So a slow job (a low bandwidth cap, a huge image)
   * cannot hold the region's slots for hours while other accounts' jobs wait.
   */
  timeSliceMs: number;
  /** Chunk batch requests in flight per job (default: 8). */
  parallelFetches: number;
  /** Chunks asked for in one batch request, at most 64 (default: 16). */
  chunksPerRequest: number;
  /** First delay before retrying a failed chunk or run (default: 2 s; doubles each time). */
  retryBaseMs: number;
  /** Tries per chunk batch within one run, counted since its last stored chunk, before the run fails (default: 4). */
  chunkAttempts: number;
  /**
   * Runs per job before it ends FAIL (default: 10). With the backoff (retryBaseMs doubling, at most 5 minutes)
   * a job outlasts ~13 minutes of its source being unreachable: a restart or a network cut does not fail it.
   */
  maxAttempts: number;
  /** Default cap in bytes per second per job; null = none (default: null). */
  bandwidthLimit: number | null;
  /**
   * Largest image the BCC-shaped call (`POST /v2/image/{id}?remoteCopy`) copies, bytes (default: 200 GiB, as
   * BCC's API reference states it; larger ones are refused with Image.LargeImageCopyForbidden).
   */
  bccMaxImageBytes: number;
  /** Price per GiB sent between regions, for the usage report (default: 0). */
  transferPricePerGiB: number;
  /** How often due webhook deliveries are sent (default: 1 s). */
  webhookIntervalMs: number;
  /** First delay before a failed delivery is sent again (default: 2 s; doubles each time). */
  webhookRetryBaseMs: number;
  /** Tries per delivery before it is given up as failed (default: 8). */
  webhookAttempts: number;
  /**
   * Whether webhooks may reach loopback, private and reserved addresses (default: false: they must reach a
   * public address; replication/webhook-target.ts). `ferry local` turns it on: its receivers are local.
   */
  webhookPrivateAddresses: boolean;
  /** How often identity changes owed to other regions (a revoked token, a disabled user) are sent (default: 1 s). */
  identityDeliveryIntervalMs: number;
  /** First delay before a failed identity delivery is sent again (default: 2 s; doubles each time). */
  identityRetryBaseMs: number;
  /**
   * Longest delay between tries of an identity delivery (default: 1 minute): a region back from an outage may
   * accept a revoked token for up to this long. Never given up: a revocation must reach every region, however
   * long one is down.
   */
  identityRetryMaxMs: number;
  /**
   * How often a region looks whether its catalog file or its credential file changed, and re-reads them
   * (default: 5 s; SIGHUP to `ferry serve` re-reads them at once). See docs/security.md, rotation.
   */
  trustCheckMs: number;
  /** Start the job worker in this process (default: true). */
  runWorker: boolean;
}

export const DEFAULT_REPLICATION_SETTINGS: ReplicationSettings = {
  limits: DEFAULT_REPLICATION_LIMITS,
  leaseMs: 30_000,
  pollMs: 500,
  concurrentJobs: 2,
  timeSliceMs: 60_000,
  parallelFetches: 8,
  chunksPerRequest: 16,
  retryBaseMs: 2_000,
  chunkAttempts: 4,
  maxAttempts: 10,
  bandwidthLimit: null,
  bccMaxImageBytes: 200 * 1024 ** 3,
  transferPricePerGiB: 0,
  webhookIntervalMs: 1000,
  webhookRetryBaseMs: 2000,
  webhookAttempts: 8,
  webhookPrivateAddresses: false,
  identityDeliveryIntervalMs: 1000,
  identityRetryBaseMs: 2000,
  identityRetryMaxMs: 60_000,
  trustCheckMs: 5_000,
  runWorker: true,
};

/** Highest bandwidth cap a job takes (100 GiB/s, past any link): a bound, so that 1e308 is no "integer" cap. */
export const MAX_BANDWIDTH_LIMIT = 100 * 1024 ** 3;
