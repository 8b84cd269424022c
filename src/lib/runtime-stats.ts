/**
 * What an operator asks of a running region process: its memory, and how long its event loop was kept
 * from running, measured by Node's `monitorEventLoopDelay` (a timer every 10 ms that records how late it
 * fired). The loop must stay free while GC, scrub and transfers run (`docs/design.md`): one long
 * synchronous step would stall every request and every socket of the region. Read over a window that an
 * administrator (or the bench) starts and ends: `GET /v1/admin/runtime`, `POST /v1/admin/runtime/reset`.
 * @module
 */
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';

/** The histogram's sampling interval: a stall shorter than this may go unseen. */
const RESOLUTION_MS = 10;

export interface RuntimeStats {
  readonly pid: number;
  readonly uptime_seconds: number;
  readonly memory: {
    readonly rss_bytes: number;
    readonly heap_used_bytes: number;
    readonly heap_total_bytes: number;
    readonly array_buffers_bytes: number;
  };
  /** Over the window: how late the loop's timer ran, in milliseconds. */
  readonly event_loop_delay: {
    readonly since: string;
    readonly samples: number;
    readonly max_ms: number;
    readonly p99_ms: number;
    readonly mean_ms: number;
  };
}

let histogram: IntervalHistogram | undefined;
let since = new Date();

/** Starts measuring, once per process (regions run in one process in tests share it). */
function monitor(): IntervalHistogram {
  if (histogram === undefined) {
    histogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
    histogram.enable();
    since = new Date();
  }
  return histogram;
}

/** Starts the measurement at region start, so the first window covers the process's life. */
export function startRuntimeStats(): void {
  monitor();
}

const milliseconds = (nanoseconds: number): number => Math.round(nanoseconds / 1e4) / 100;

/** The process's figures, the loop's over the window begun at start or at the last `resetRuntimeStats`. */
export function runtimeStats(): RuntimeStats {
  const loop = monitor();
  const memory = process.memoryUsage();
  const samples = loop.count;
  return {
    pid: process.pid,
    uptime_seconds: Math.round(process.uptime()),
    memory: {
      rss_bytes: memory.rss,
      heap_used_bytes: memory.heapUsed,
      heap_total_bytes: memory.heapTotal,
      array_buffers_bytes: memory.arrayBuffers,
    },
    event_loop_delay: {
      since: since.toISOString(),
      samples,
      // The histogram counts the whole delay, timer interval included: the interval is not a stall.
      max_ms: samples === 0 ? 0 : Math.max(0, milliseconds(loop.max) - RESOLUTION_MS),
      p99_ms: samples === 0 ? 0 : Math.max(0, milliseconds(loop.percentile(99)) - RESOLUTION_MS),
      mean_ms: samples === 0 ? 0 : Math.max(0, milliseconds(loop.mean) - RESOLUTION_MS),
    },
  };
}

/**
 * Ends the window: answers its figures and starts a new one. The new window's first tick only starts its
 * clock, so a stall within its first RESOLUTION_MS is not seen.
 */
export function resetRuntimeStats(): RuntimeStats {
  const stats = runtimeStats();
  monitor().reset();
  since = new Date();
  return stats;
}
