/**
 * The bounded memory of a streaming inspector: the head, the capture regions probes asked for, and a tail
 * ring. Whatever the stream's length it keeps at most HEAD_BYTES + CAPTURE_BUDGET_BYTES + TAIL_BYTES, and
 * past the head `append()` copies at most TAIL_BYTES of each piece (plus the overlap with a pending region).
 * @module
 */
import { CAPTURE_BUDGET_BYTES, HEAD_BYTES, TAIL_BYTES, type ByteRange, type StreamView } from './probe.js';

/** Most capture regions at once: a guard against a probe asking for ranges in a loop. */
const MAX_REGIONS = 32;

interface CaptureRegion {
  readonly offset: number;
  readonly data: Buffer;
  /** Bytes filled so far, from the start of `data` (pieces arrive in order, so always a prefix). */
  filled: number;
}

export interface StreamWindow extends StreamView {
  /**
   * Takes the next piece of the stream. Returns true when the head or a capture region has just become
   * complete, i.e. when probes may have something new to read.
   */
  append(piece: Buffer): boolean;
  /**
   * Asks to keep `range`. Filled at once from what is already kept and from `piece` (the latest piece, which
   * started at `pieceStart`), then from later pieces. Returns false if nothing changed: the range is already
   * kept or asked for, it lies (partly) behind the stream with a gap no kept bytes cover, or it doesn't fit in
   * the budget. Returns true if a region was added (complete or not).
   */
  capture(range: ByteRange, piece: Buffer | undefined, pieceStart: number): boolean;
  /** Marks the end of the stream: from now on the tail is readable and nothing more is appended. */
  end(): void;
  /** Whether the whole head has been seen. */
  readonly headComplete: boolean;
  /** Bytes held in memory, for audits and tests. */
  readonly retainedBytes: number;
}

/** Creates an empty window. The head buffer grows with the stream, up to HEAD_BYTES. */
export function createStreamWindow(): StreamWindow {
  let head = Buffer.alloc(0);
  let headLength = 0;
  const regions: CaptureRegion[] = [];
  let regionBytes = 0;
  const ring = Buffer.alloc(TAIL_BYTES);
  /** Next write position in `ring`. */
  let ringWrite = 0;
  let length = 0;
  let ended = false;

  function appendToHead(piece: Buffer): void {
    const n = Math.min(HEAD_BYTES - headLength, piece.length);
    if (headLength + n > head.length) {
      // Grow geometrically so a stream of small pieces doesn't copy the head quadratically.
      const grown = Buffer.alloc(Math.min(HEAD_BYTES, Math.max(headLength + n, head.length * 2, 64 * 1024)));
      head.copy(grown, 0, 0, headLength);
      head = grown;
    }
    piece.copy(head, headLength, 0, n);
    headLength += n;
  }

  function appendToRing(piece: Buffer): void {
    if (piece.length >= TAIL_BYTES) {
      piece.copy(ring, 0, piece.length - TAIL_BYTES);
      ringWrite = 0;
      return;
    }
    const first = Math.min(piece.length, TAIL_BYTES - ringWrite);
    piece.copy(ring, ringWrite, 0, first);
    piece.copy(ring, 0, first);
    ringWrite = (ringWrite + piece.length) % TAIL_BYTES;
  }

  /** Copies the part of `piece` (starting at stream offset `pieceStart`) the region needs next. */
  function fillFromPiece(region: CaptureRegion, piece: Buffer, pieceStart: number): void {
    const next = region.offset + region.filled;
    const pieceEnd = pieceStart + piece.length;
    if (next < pieceStart || next >= pieceEnd) return;
    const from = next - pieceStart;
    const n = Math.min(region.data.length - region.filled, pieceEnd - next);
    piece.copy(region.data, region.filled, from, from + n);
    region.filled += n;
  }

  /** Fills the region from the head and from complete regions, as far as they reach contiguously. */
  function fillFromKept(region: CaptureRegion): void {
    for (;;) {
      const next = region.offset + region.filled;
      if (region.filled === region.data.length) return;
      if (next < headLength) {
        const n = Math.min(region.data.length - region.filled, headLength - next);
        head.copy(region.data, region.filled, next, next + n);
        region.filled += n;
        continue;
      }
      const source = regions.find((r) => r.offset <= next && next < r.offset + r.filled);
      if (source === undefined) return;
      const n = Math.min(region.data.length - region.filled, source.offset + source.filled - next);
      source.data.copy(region.data, region.filled, next - source.offset, next - source.offset + n);
      region.filled += n;
    }
  }

  function readTail(offset: number, size: number): Buffer | undefined {
    const kept = Math.min(length, TAIL_BYTES);
    if (offset < length - kept || offset + size > length) return undefined;
    const out = Buffer.alloc(size);
    // The ring's oldest byte sits at ringWrite once it has wrapped; stream offset `length - kept` maps to it.
    const oldest = length >= TAIL_BYTES ? ringWrite : 0;
    for (let i = 0; i < size; i++) {
      out[i] = ring[(oldest + (offset - (length - kept)) + i) % TAIL_BYTES] ?? 0;
    }
    return out;
  }

  function bytes(offset: number, size: number): Buffer | undefined {
    if (offset < 0 || size < 0) return undefined;
    if (offset + size <= headLength) return head.subarray(offset, offset + size);
    for (const r of regions) {
      if (r.offset <= offset && offset + size <= r.offset + r.filled) {
        return r.data.subarray(offset - r.offset, offset - r.offset + size);
      }
    }
    return ended ? readTail(offset, size) : undefined;
  }

  return {
    get length() {
      return length;
    },
    get ended() {
      return ended;
    },
    get headComplete() {
      return headLength === HEAD_BYTES;
    },
    get retainedBytes() {
      return head.length + regionBytes + ring.length;
    },

    append(piece) {
      if (ended) throw new Error('stream window: append() after end()');
      const pieceStart = length;
      const headWasComplete = headLength === HEAD_BYTES;
      if (!headWasComplete) appendToHead(piece);
      let completed = !headWasComplete && headLength === HEAD_BYTES;
      for (const region of regions) {
        if (region.filled === region.data.length) continue;
        fillFromPiece(region, piece, pieceStart);
        if (region.filled === region.data.length) completed = true;
      }
      appendToRing(piece);
      length += piece.length;
      return completed;
    },

    capture(range, piece, pieceStart) {
      if (range.length <= 0 || range.offset < 0) return false;
      if (bytes(range.offset, range.length) !== undefined) return false;
      if (regions.some((r) => r.offset === range.offset && r.data.length === range.length)) return false;
      if (regions.length >= MAX_REGIONS || regionBytes + range.length > CAPTURE_BUDGET_BYTES) return false;
      const region: CaptureRegion = { offset: range.offset, data: Buffer.alloc(range.length), filled: 0 };
      fillFromKept(region);
      if (piece !== undefined) fillFromPiece(region, piece, pieceStart);
      // Whatever is still missing must lie ahead; a gap behind the stream can never be filled.
      if (region.filled < region.data.length && region.offset + region.filled < length) return false;
      regions.push(region);
      regionBytes += range.length;
      return true;
    },

    end() {
      ended = true;
    },

    bytes,
  };
}
