/**
 * HTTP Range requests for image downloads (RFC 9110): one range of the forms `bytes=a-b`, `bytes=a-` or
 * `bytes=-n`. Several ranges in one request are served as the whole image, as the RFC allows.
 * @module
 */
import type { ImageRange } from '../blobs/read.js';

/** The range asked for, undefined to serve everything, or 'unsatisfiable' (answer 416). */
export function parseRange(
  header: string | undefined,
  size: number,
): ImageRange | 'unsatisfiable' | undefined {
  if (header === undefined) return undefined;
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!match) return undefined;
  const [, first, last] = match as unknown as [string, string, string];
  if (first === '' && last === '') return undefined;
  if (first === '') {
    const suffix = Number(last);
    if (suffix === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(first);
  if (start >= size) return 'unsatisfiable';
  const end = last === '' ? size - 1 : Math.min(Number(last), size - 1);
  if (end < start) return undefined;
  return { start, end };
}
