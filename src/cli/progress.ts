/**
 * Progress of long work on stderr: one bar per row (a destination region, an upload, a download) with
 * percent, bytes, rate and ETA when stderr is a terminal (cli-progress), plain periodic lines when it is not
 * (a pipe, CI), or nothing (`--no-progress`). Rows are keyed, so a caller updates them from whatever it
 * polls (the job API, bytes read from a file).
 * @module
 */
import cliProgress from 'cli-progress';
import { formatBytes, formatDuration, formatRate } from './units.js';

export type ProgressMode = 'bars' | 'lines' | 'none';

export interface ProgressState {
  /** Bytes already in place. */
  done: number;
  /** Bytes in all (0 while unknown). */
  total: number;
  /** Percent done, 0..100; computed from done/total when absent. */
  percent?: number;
  bytesPerSecond?: number | null;
  etaSeconds?: number | null;
  /** A word shown after the figures (a job's status). */
  status?: string;
}

export interface ProgressDisplay {
  readonly mode: ProgressMode;
  /** Adds a row; rows are drawn in the order they are added. */
  add(key: string, label: string, state: ProgressState): void;
  update(key: string, state: ProgressState): void;
  /** Stops drawing, leaving the last bars on screen; idempotent. */
  stop(): void;
}

/** A plain line at least this often per row, even when its percent did not move (default: 10 s). */
export const LINE_INTERVAL_MS = 10_000;

/** Bars on a terminal, lines elsewhere, none when progress is turned off. */
export function progressModeFor(enabled: boolean, stream: NodeJS.WriteStream = process.stderr): ProgressMode {
  if (!enabled) return 'none';
  return stream.isTTY ? 'bars' : 'lines';
}

function percentOf(state: ProgressState): number {
  if (state.percent !== undefined) return state.percent;
  return state.total > 0 ? Math.min(100, (state.done / state.total) * 100) : 0;
}

/** `41% | 8.20 MiB/20.0 MiB | 4.00 MiB/s | ETA 3s` */
function figures(state: ProgressState, separator: string): string {
  const parts = [
    `${String(Math.floor(percentOf(state))).padStart(3)}%`,
    `${formatBytes(state.done)}/${state.total > 0 ? formatBytes(state.total) : '?'}`,
    formatRate(state.bytesPerSecond),
    `ETA ${formatDuration(state.etaSeconds)}`,
  ];
  return parts.join(separator) + (state.status ? `${separator}${state.status}` : '');
}

export function createProgressDisplay(
  mode: ProgressMode,
  stream: NodeJS.WriteStream = process.stderr,
  lineIntervalMs = LINE_INTERVAL_MS,
): ProgressDisplay {
  if (mode === 'bars') return createBars(stream);
  if (mode === 'lines') return createLines(stream, lineIntervalMs);
  return { mode, add() {}, update() {}, stop() {} };
}

function createBars(stream: NodeJS.WriteStream): ProgressDisplay {
  let labelWidth = 0;
  const multibar = new cliProgress.MultiBar(
    {
      stream,
      hideCursor: true,
      clearOnComplete: false,
      gracefulExit: false,
      barsize: 30,
      fps: 5,
      format: (options, params, payload: { label: string; state: ProgressState }) => {
        const bar = cliProgress.Format.BarFormat(percentOf(payload.state) / 100, options);
        return `${payload.label.padEnd(labelWidth)} ${bar} ${figures(payload.state, ' | ')}`;
      },
    },
    cliProgress.Presets.shades_classic,
  );
  const bars = new Map<string, cliProgress.SingleBar>();
  let stopped = false;
  return {
    mode: 'bars',
    add(key, label, state) {
      labelWidth = Math.max(labelWidth, label.length);
      bars.set(key, multibar.create(Math.max(state.total, 1), state.done, { label, state }));
    },
    update(key, state) {
      const bar = bars.get(key);
      if (!bar || stopped) return;
      bar.setTotal(Math.max(state.total, 1));
      bar.update(state.done, { state });
    },
    stop() {
      if (stopped) return;
      stopped = true;
      multibar.stop();
    },
  };
}

function createLines(stream: NodeJS.WriteStream, intervalMs: number): ProgressDisplay {
  const rows = new Map<string, { label: string; decile: number; status?: string; at: number }>();
  let labelWidth = 0;
  const print = (key: string, state: ProgressState) => {
    const row = rows.get(key)!;
    row.decile = Math.floor(percentOf(state) / 10);
    row.status = state.status;
    row.at = Date.now();
    stream.write(`${row.label.padEnd(labelWidth)}  ${figures(state, '  ')}\n`);
  };
  return {
    mode: 'lines',
    add(key, label, state) {
      labelWidth = Math.max(labelWidth, label.length);
      rows.set(key, { label, decile: -1, at: 0 });
      print(key, state);
    },
    update(key, state) {
      const row = rows.get(key);
      if (!row) return;
      // A line per 10 % step or status change, and one every `intervalMs` so a stalled job still shows life.
      if (
        Math.floor(percentOf(state) / 10) !== row.decile ||
        state.status !== row.status ||
        Date.now() - row.at >= intervalMs
      ) {
        print(key, state);
      }
    },
    stop() {},
  };
}

/** Rate and ETA of a local transfer (upload, download), averaged over the last few seconds. */
export function createRateMeter(windowMs = 5_000): (done: number, total: number) => ProgressState {
  const samples: Array<{ at: number; done: number }> = [];
  return (done, total) => {
    const now = Date.now();
    samples.push({ at: now, done });
    while (samples.length > 2 && now - samples[0]!.at > windowMs) samples.shift();
    const first = samples[0]!;
    const seconds = (now - first.at) / 1000;
    const bytesPerSecond = seconds > 0.2 ? (done - first.done) / seconds : null;
    const etaSeconds =
      bytesPerSecond && total > 0 ? Math.max(0, Math.ceil((total - done) / bytesPerSecond)) : null;
    return { done, total, bytesPerSecond, etaSeconds };
  };
}
