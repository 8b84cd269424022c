/**
 * Sizes, rates and durations as people write and read them: `4MiB`, `500k`, `1.5 GiB`, `1m05s`.
 * @module
 */
import { UsageError } from './errors.js';

const UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1024,
  kib: 1024,
  kb: 1000,
  m: 1024 ** 2,
  mib: 1024 ** 2,
  mb: 1000 ** 2,
  g: 1024 ** 3,
  gib: 1024 ** 3,
  gb: 1000 ** 3,
  t: 1024 ** 4,
  tib: 1024 ** 4,
  tb: 1000 ** 4,
};

/**
 * Parses a size such as `4MiB`, `4M` (binary, as curl reads it), `4MB` (decimal) or `4194304` (bytes), with
 * an optional `/s`. Throws a UsageError naming `what` when it is not one.
 */
export function parseSize(text: string, what = 'size'): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*(?:\/s)?\s*$/i.exec(text);
  const factor = match ? UNITS[match[2]!.toLowerCase()] : undefined;
  if (!match || factor === undefined) {
    throw new UsageError(
      `${what} must be a number of bytes with an optional unit (e.g. 4MiB, 500KiB), not ${text}`,
    );
  }
  return Math.round(Number(match[1]) * factor);
}

/** `1536` → `1.5 KiB`; binary units, three significant digits. */
export function formatBytes(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined || !Number.isFinite(bytes)) return '-';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let value = bytes;
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  if (unit === 0) return `${value} B`;
  return `${value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value.toFixed(2)} ${units[unit]}`;
}

/** Bytes per second as `4.00 MiB/s`. */
export function formatRate(bytesPerSecond: number | null | undefined): string {
  return bytesPerSecond ? `${formatBytes(bytesPerSecond)}/s` : '-';
}

/** Seconds as `42s`, `3m07s`, `2h05m`; unknown as `-`. */
export function formatDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds) || seconds < 0) return '-';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}
