/**
 * What a reliability test tried and what held (issue 22, point 7): each test of the reliability suite records
 * one row, and `npm run reliability` (scripts/reliability.ts) gathers the rows of a run into
 * docs/reliability.md. A row is appended, as one JSON line, to the file FERRY_RELIABILITY_OUT names; without
 * it (a plain `npm test`) recording does nothing.
 * @module
 */
import { appendFile } from 'node:fs/promises';

/** The classes of issue 22, in the order the report lists them. */
export const RELIABILITY_CLASSES = ['crash', 'network', 'disk', 'input', 'isolation', 'load'] as const;
export type ReliabilityClass = (typeof RELIABILITY_CLASSES)[number];

export interface ReliabilityRow {
  class: ReliabilityClass;
  /** What was exercised, e.g. "SIGKILL of a region during uploads, replications, cancels, copies, GC, scrub". */
  subject: string;
  /** What was tried, with counts and seeds: "50 kill points, seed 1234 (upload 11, replication 14, …)". */
  tried: string;
  /** What held, with counts: "50 of 50: every active image byte-identical, every job final within 30 s". */
  held: string;
  /** Figures worth a column of their own (latencies, memory), by name. */
  figures?: Record<string, number | string>;
  /** The test file that produced the row (relative to the repository). */
  file: string;
}

/** Appends the row to FERRY_RELIABILITY_OUT, if set. Call it once the test's assertions have passed. */
export async function recordReliability(row: ReliabilityRow): Promise<void> {
  const out = process.env.FERRY_RELIABILITY_OUT;
  if (!out) return;
  await appendFile(out, JSON.stringify(row) + '\n');
}
