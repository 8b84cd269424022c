/**
 * The contract between the streaming inspector and the per-format probes: what a probe may read (a
 * `StreamView` of the bytes the inspector kept) and what it answers (a `FormatMatch`), plus the size limits
 * and the small byte-reading helpers every probe shares.
 *
 * Glossary: the *head* is the first `HEAD_BYTES` of the stream, always kept; a *capture region* is a further
 * range a probe asked for because a header it already parsed points there, kept only if it still lies ahead
 * in the stream; the *tail* is the last `TAIL_BYTES`, kept in a ring, readable once the stream has ended.
 * @module
 */

/** The first bytes of every stream are kept in full: every header Ferry parses starts here. */
export const HEAD_BYTES = 1024 * 1024;

/**
 * The last bytes of the stream, kept in a ring: 512 for a fixed VHD footer, 1536 for a streamOptimized
 * VMDK's footer marker + footer + end-of-stream marker.
 */
export const TAIL_BYTES = 1536;

/** Most bytes kept in capture regions beyond the head (the VHDX metadata table is 64 KiB). */
export const CAPTURE_BUDGET_BYTES = 4 * 1024 * 1024;

/** A byte range of the stream: [offset, offset + length). */
export interface ByteRange {
  readonly offset: number;
  readonly length: number;
}

/**
 * What a probe sees of the stream. Probes are called only once the head is complete or the stream has
 * ended, so `bytes()` returning undefined for a range inside the head means the stream is shorter.
 */
export interface StreamView {
  /** Bytes seen so far; the stream's total length once `ended`. */
  readonly length: number;
  /** True once the last piece was seen: a range not available now never will be. */
  readonly ended: boolean;
  /**
   * The bytes at `range` if all of them were kept (head, a capture region, or the tail once ended), else
   * undefined. The buffer may be shared with the inspector: read it, never change or keep it.
   */
  bytes(offset: number, length: number): Buffer | undefined;
}

/** A probe's answer when the bytes are (or claim to be) its format. */
export interface FormatMatch {
  /** The virtual disk size in bytes; null while (or if) it cannot be known. */
  readonly virtualSize: number | null;
  /** Safety problems, human readable; empty means safe as far as this probe can tell. */
  readonly problems: readonly string[];
  /** Ranges ahead in the stream the probe needs to finish its job; the inspector captures them. */
  readonly wants: readonly ByteRange[];
}

/**
 * Decides whether the stream is one format. Pure: same view, same answer (the inspector calls it again each
 * time more bytes become available). Returns null when the bytes are not this format.
 */
export type FormatProbe = (view: StreamView) => FormatMatch | null;

/** Reads a u64 as a number; null when it doesn't fit in a double without loss (an absurd size). */
export function readSafeU64(data: Buffer, offset: number, endian: 'be' | 'le'): number | null {
  const value = endian === 'be' ? data.readBigUInt64BE(offset) : data.readBigUInt64LE(offset);
  return value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : null;
}

/** Whether `data` starts with the ASCII text `magic`, without copying. */
export function startsWithAscii(data: Buffer | undefined, magic: string): boolean {
  if (data === undefined || data.length < magic.length) return false;
  for (let i = 0; i < magic.length; i++) {
    if (data[i] !== magic.charCodeAt(i)) return false;
  }
  return true;
}

/**
 * A short printable rendering of untrusted bytes for a problem message: at most 80 characters, anything
 * outside printable ASCII shown as `\xNN`, so a hostile name can't inject control characters into logs.
 */
export function quoteUntrusted(data: Buffer | string): string {
  const text = typeof data === 'string' ? data : data.toString('latin1');
  let out = '';
  for (const ch of text.slice(0, 80)) {
    const code = ch.charCodeAt(0);
    out +=
      code >= 0x20 && code < 0x7f && ch !== '"' && ch !== '\\'
        ? ch
        : `\\x${code.toString(16).padStart(2, '0')}`;
  }
  return `"${out}${text.length > 80 ? '...' : ''}"`;
}

/** `0x`-prefixed hex, for offsets in messages. */
export function hex(value: number | bigint): string {
  return `0x${value.toString(16)}`;
}
