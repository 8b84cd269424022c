/**
 * The shape of a bench run's results, as `npm run bench -- --json FILE` writes them and bench/report.ts
 * reads them back: every row (its runs, median, min and max; bytes sent; CPU-seconds per GiB and peak RSS
 * of each process) and a verdict per target of issue 16. Plain data, so a report can be regenerated from
 * an old file.
 * @module
 */
import { median } from './lib.js';

/** Every run's value in run order, with their median, min and max. */
export interface Spread {
  readonly median: number;
  readonly min: number;
  readonly max: number;
  readonly runs: number[];
}

export function spread(runs: readonly number[]): Spread {
  return { median: median(runs), min: Math.min(...runs), max: Math.max(...runs), runs: [...runs] };
}

export type RowId =
  | 'cp-cached'
  | 'cp-uncached'
  | 'ferry-upload'
  | 'glance-upload'
  | 'ferry-replicate'
  | 'glance-a-to-b'
  | 'ferry-replicate-changed'
  | 'ferry-replicate-sparse';

export interface BenchRow {
  readonly id: RowId;
  readonly label: string;
  /** Ferry rows: the flush latency injected per durability barrier (settings `storage.flushDelayMs`). */
  readonly flushDelayMs?: number;
  /** The image's logical size (what CPU-seconds per GiB and MiB/s are per). */
  readonly imageBytes: number;
  /** Why the row could not be measured (then it has no figures). */
  readonly unavailable?: string;
  readonly seconds?: Spread;
  /** Replications: the job's `bytes_transferred`. */
  readonly bytesSent?: Spread;
  /** Per process (and both processes together), user + system CPU over the image's GiB. */
  readonly cpuSecondsPerGiB?: Record<string, Spread>;
  /** Per Ferry region process, the highest of VmHWM and sampled VmRSS over every run, in MiB. */
  readonly peakRssMiB?: Record<string, number>;
}

/**
 * The event loop's stalls in each region process (D = 0) over a stretch of the run, from the process's own
 * `monitorEventLoopDelay` (GET /v1/admin/runtime): the longest over every window of the stretch, the
 * highest p99, and the median of the windows' longest.
 */
export interface LoopDelayRow {
  readonly id: 'rounds' | 'gc-scrub';
  readonly label: string;
  readonly windows: number;
  /** Per region process, and IDLE_PROCESS for the baseline. */
  readonly maxMs: Record<string, number>;
  readonly p99Ms: Record<string, number>;
  /** Per process (as maxMs), the median over the windows of each window's longest stall. */
  readonly medianMaxMs: Record<string, number>;
  /** Per window, in order, the longer of the region processes' longest stalls. */
  readonly regionsLongestMs: number[];
}

export type VerdictValue = 'PASS' | 'FAIL' | 'UNMEASURED';

export interface Verdict {
  readonly target: string;
  readonly verdict: VerdictValue;
  /** The figures compared, from this run's medians and baselines. */
  readonly figures: string;
}

export interface BenchResult {
  readonly version: 1;
  /** When the run started and ended (ISO 8601, UTC). */
  readonly started: string;
  readonly finished: string;
  readonly machine: string;
  /** What was measured: the commit, and whether the working tree had changes not committed. */
  readonly build?: string;
  readonly sizeBytes: number;
  readonly sparseBytes: number;
  readonly sparseDataBytes: number;
  readonly runs: number;
  /** "used", or why Glance's rows are missing. */
  readonly glance: string;
  readonly rows: BenchRow[];
  /** Absent in results of runs before it was measured. */
  readonly loopDelay?: LoopDelayRow[];
  readonly verdicts: Verdict[];
}

/** Processes summed as one, for the replication CPU target. */
export const BOTH_REGIONS = 'both regions';
export const BOTH_GLANCES = 'both Glances';
/** The event-loop baseline: an idle Node process's own stalls over the same windows (bench/loop-baseline.ts). */
export const IDLE_PROCESS = 'idle process';

export function findRow(result: { rows: readonly BenchRow[] }, id: RowId, flushDelayMs?: number) {
  return result.rows.find((row) => row.id === id && row.flushDelayMs === flushDelayMs);
}
