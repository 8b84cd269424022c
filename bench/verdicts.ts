/**
 * A verdict per target of issue 16's "Targets" section, computed from one run's own medians and baselines
 * (never from figures of another run): PASS or FAIL with the figures compared, or UNMEASURED when a row it
 * needs could not be measured in this run (and why).
 * @module
 */
import { fmt, GiB, median, MiB } from './lib.js';
import {
  BOTH_REGIONS,
  findRow,
  IDLE_PROCESS,
  type BenchRow,
  type LoopDelayRow,
  type RowId,
  type Verdict,
} from './results.js';

/** The thresholds, as the issue states them. */
const REPLICATION_VS_UNCACHED_CP = 1.25;
const REPLICATION_VS_GLANCE = 0.5;
const REPLICATION_CPU_PER_GIB = 2.5;
const FLUSH_DELAY_MS = 10;
const FLUSH_DELAY_SLOWDOWN = 1.15;
const UPLOAD_VS_GLANCE = 1.5;
const CHANGED_BYTES_SHARE = 0.06;
const CHANGED_TIME_SHARE = 0.1;
/** 80 MiB sent for 64 MiB of data in an 8 GiB sparse image: scaled with the data for other sizes. */
const SPARSE_SENT_PER_DATA = 80 / 64;
const SPARSE_SECONDS = 2;
const RSS_MIB = 200;
const LOOP_STALL_MS = 50;

const s = (seconds: number) => `${fmt(seconds, 2)} s`;
const mib = (bytes: number) => `${fmt(bytes / MiB, 1)} MiB`;
/** "4.3% slower", or "4.3% faster" when the delayed runs were quicker (the disk's drift outweighed D). */
const slower = (change: number) =>
  change >= 0 ? `${fmt(change * 100, 1)}% slower` : `${fmt(-change * 100, 1)}% faster`;

/** The row's median seconds, or why it has none. */
function seconds(row: BenchRow | undefined, what: string): number | string {
  if (row === undefined) return `${what}: not run`;
  if (row.unavailable !== undefined || row.seconds === undefined) {
    return `${what}: ${row.unavailable ?? 'no runs'}`;
  }
  return row.seconds.median;
}

function verdict(target: string, ok: boolean, figures: string): Verdict {
  return { target, verdict: ok ? 'PASS' : 'FAIL', figures };
}

function unmeasured(target: string, why: string): Verdict {
  return { target, verdict: 'UNMEASURED', figures: why };
}

export function computeVerdicts(result: {
  rows: readonly BenchRow[];
  loopDelay?: readonly LoopDelayRow[];
  sizeBytes: number;
  sparseBytes: number;
  sparseDataBytes: number;
}): Verdict[] {
  const { rows, sizeBytes } = result;
  const row = (id: RowId, delay?: number) => findRow({ rows }, id, delay);
  const size = `${fmt(sizeBytes / GiB, 2)} GiB`;
  const verdicts: Verdict[] = [];

  // Replication time against the disk and against Glance.
  {
    const target =
      `Replication of a new ${size} random image ≤ max(${REPLICATION_VS_UNCACHED_CP} × durable cp of the ` +
      `uncached source, ${REPLICATION_VS_GLANCE} × Glance A→B)`;
    const ferry = seconds(row('ferry-replicate', 0), 'Ferry replication');
    const cp = seconds(row('cp-uncached'), 'cp of the uncached source');
    const glance = seconds(row('glance-a-to-b'), 'Glance A→B');
    if (typeof ferry === 'string') verdicts.push(unmeasured(target, ferry));
    else if (typeof cp === 'string') verdicts.push(unmeasured(target, cp));
    else {
      const byDisk = REPLICATION_VS_UNCACHED_CP * cp;
      const byGlance = typeof glance === 'number' ? REPLICATION_VS_GLANCE * glance : undefined;
      const limit = Math.max(byDisk, byGlance ?? 0);
      verdicts.push(
        verdict(
          target,
          ferry <= limit,
          `Ferry ${s(ferry)} against ${s(limit)}: ${REPLICATION_VS_UNCACHED_CP} × cp ${s(cp)} = ${s(byDisk)}, ` +
            (byGlance === undefined
              ? `Glance term missing (${String(glance)})`
              : `${REPLICATION_VS_GLANCE} × Glance ${s(glance as number)} = ${s(byGlance)}`) +
            ` (Ferry at ${fmt(ferry / cp, 2)} × cp` +
            (typeof glance === 'number' ? `, ${fmt(glance / ferry, 2)}× Glance's speed)` : ')'),
        ),
      );
    }
  }

  // Replication CPU, both region processes together.
  {
    const target = `Replication CPU ≤ ${REPLICATION_CPU_PER_GIB} CPU-s per GiB, both region processes together`;
    const cpu = row('ferry-replicate', 0)?.cpuSecondsPerGiB?.[BOTH_REGIONS];
    if (cpu === undefined) verdicts.push(unmeasured(target, 'Ferry replication not measured'));
    else {
      verdicts.push(
        verdict(
          target,
          cpu.median <= REPLICATION_CPU_PER_GIB,
          `${fmt(cpu.median, 2)} CPU-s/GiB (median; runs ${fmt(cpu.min, 2)}–${fmt(cpu.max, 2)})`,
        ),
      );
    }
  }

  // Injected flush latency.
  for (const [id, what] of [
    ['ferry-upload', 'upload'],
    ['ferry-replicate', 'replication'],
  ] as const) {
    const target = `With ${FLUSH_DELAY_MS} ms injected per barrier: ${what} ≤ ${fmt((FLUSH_DELAY_SLOWDOWN - 1) * 100, 0)}% slower than with 0 ms`;
    const base = seconds(row(id, 0), `${what} at D = 0`);
    const delayed = seconds(row(id, FLUSH_DELAY_MS), `${what} at D = ${FLUSH_DELAY_MS} ms`);
    if (typeof base === 'string') verdicts.push(unmeasured(target, base));
    else if (typeof delayed === 'string') verdicts.push(unmeasured(target, delayed));
    else {
      verdicts.push(
        verdict(
          target,
          delayed <= FLUSH_DELAY_SLOWDOWN * base,
          `D = ${FLUSH_DELAY_MS} ms ${s(delayed)}, D = 0 ${s(base)}: ${slower(delayed / base - 1)}`,
        ),
      );
    }
  }

  // Upload against Glance's.
  {
    const target = `Upload of ${size}: ≥ ${UPLOAD_VS_GLANCE}× Glance's upload throughput`;
    const ferry = seconds(row('ferry-upload', 0), 'Ferry upload');
    const glance = seconds(row('glance-upload'), 'Glance upload');
    if (typeof ferry === 'string') verdicts.push(unmeasured(target, ferry));
    else if (typeof glance === 'string') verdicts.push(unmeasured(target, glance));
    else {
      verdicts.push(
        verdict(
          target,
          glance / ferry >= UPLOAD_VS_GLANCE,
          `Ferry ${s(ferry)}, Glance ${s(glance)}: ${fmt(glance / ferry, 2)}× Glance's throughput`,
        ),
      );
    }
  }

  // 5%-changed image.
  {
    const target =
      `5%-changed image: ≤ ${CHANGED_BYTES_SHARE * 100}% of the bytes and ≤ ${CHANGED_TIME_SHARE * 100}% ` +
      'of the time of the full replication';
    const changed = row('ferry-replicate-changed', 0);
    const full = row('ferry-replicate', 0);
    if (changed?.seconds === undefined || changed.bytesSent === undefined) {
      verdicts.push(unmeasured(target, changed?.unavailable ?? 'changed-image replication not measured'));
    } else if (full?.seconds === undefined || full.bytesSent === undefined) {
      verdicts.push(unmeasured(target, full?.unavailable ?? 'full replication not measured'));
    } else {
      const bytesShare = changed.bytesSent.median / full.bytesSent.median;
      const timeShare = changed.seconds.median / full.seconds.median;
      verdicts.push(
        verdict(
          target,
          bytesShare <= CHANGED_BYTES_SHARE && timeShare <= CHANGED_TIME_SHARE,
          `${mib(changed.bytesSent.median)} of ${mib(full.bytesSent.median)} (${fmt(bytesShare * 100, 1)}%), ` +
            `${s(changed.seconds.median)} of ${s(full.seconds.median)} (${fmt(timeShare * 100, 1)}%)`,
        ),
      );
    }
  }

  // Sparse image.
  {
    const maxSent = SPARSE_SENT_PER_DATA * result.sparseDataBytes;
    const target =
      `${fmt(result.sparseBytes / GiB, 2)} GiB sparse image with ${mib(result.sparseDataBytes)} of data: ` +
      `≤ ${mib(maxSent)} sent, ≤ ${SPARSE_SECONDS} s`;
    const sparse = row('ferry-replicate-sparse', 0);
    if (sparse?.seconds === undefined || sparse.bytesSent === undefined) {
      verdicts.push(unmeasured(target, sparse?.unavailable ?? 'sparse replication not measured'));
    } else {
      verdicts.push(
        verdict(
          target,
          sparse.bytesSent.median <= maxSent && sparse.seconds.median <= SPARSE_SECONDS,
          `${mib(sparse.bytesSent.median)} sent, ${s(sparse.seconds.median)} (median; runs ` +
            `${s(sparse.seconds.min)}–${s(sparse.seconds.max)})`,
        ),
      );
    }
  }

  // Peak RSS of every region process in every Ferry row.
  {
    const target = `Peak RSS ≤ ${RSS_MIB} MiB per region process`;
    const peaks: Array<[string, number]> = [];
    for (const r of rows) {
      for (const [process, peak] of Object.entries(r.peakRssMiB ?? {})) {
        peaks.push([`${process}${r.flushDelayMs ? ` (D = ${r.flushDelayMs} ms)` : ''}, ${r.label}`, peak]);
      }
    }
    if (peaks.length === 0) verdicts.push(unmeasured(target, 'no Ferry row measured'));
    else {
      const [where, highest] = peaks.reduce((a, b) => (b[1] > a[1] ? b : a));
      verdicts.push(verdict(target, highest <= RSS_MIB, `highest ${fmt(highest, 0)} MiB (${where})`));
    }
  }

  // The event loop while GC, scrub and job lists compete with a replication.
  {
    const target = `GC, scrub and job-list refreshes during a replication hold the event loop ≤ ${LOOP_STALL_MS} ms`;
    const loop = result.loopDelay?.find((entry) => entry.id === 'gc-scrub');
    const windows = loop?.regionsLongestMs ?? [];
    if (loop === undefined || windows.length === 0) {
      verdicts.push(unmeasured(target, 'not measured in this run'));
    } else {
      // The median over the replications of the longer region's longest stall, as every target is a median;
      // the worst window and the idle process's figures beside it show what the machine did meanwhile.
      const typical = median(windows);
      const idleMedian = loop.medianMaxMs[IDLE_PROCESS];
      const idleWorst = loop.maxMs[IDLE_PROCESS];
      const [where, longest] = Object.entries(loop.maxMs)
        .filter(([name]) => name !== IDLE_PROCESS)
        .reduce((a, b) => (b[1] > a[1] ? b : a));
      const idleText =
        idleMedian === undefined || idleWorst === undefined
          ? 'not measured'
          : `median ${fmt(idleMedian, 1)} ms, longest ${fmt(idleWorst, 1)} ms`;
      const rounds = result.loopDelay?.find((entry) => entry.id === 'rounds');
      const roundsText =
        rounds === undefined
          ? ''
          : `; over the rounds: ${Object.entries(rounds.maxMs)
              .map(([name, ms]) => `${name} ${fmt(ms, 1)} ms`)
              .join(', ')}`;
      verdicts.push(
        verdict(
          target,
          typical <= LOOP_STALL_MS,
          `median over ${windows.length} replications of the longest stall ${fmt(typical, 1)} ms; ` +
            `longest of all ${fmt(longest, 1)} ms (${where}); an idle process ` +
            `meanwhile: ${idleText}${roundsText}`,
        ),
      );
    }
  }

  verdicts.push(
    unmeasured(
      'List/show p99 ≤ 20 ms at 100k images',
      'not measured by this bench (it runs no listing at scale)',
    ),
  );
  return verdicts;
}
