/**
 * Feeds files and buffers through a format inspector in chosen piece sizes, the way an upload arrives.
 * @module
 */
import { createReadStream } from 'node:fs';
import { createFormatInspector, type InspectionResult } from '../../../src/formats/inspector.js';
import { HEAD_BYTES } from '../../../src/formats/probe.js';

/** A prime well below the head size, an upload's 1 MiB chunk, and one piece for the whole stream. */
export const PIECE_SIZES = [7919, 1024 * 1024, Number.MAX_SAFE_INTEGER] as const;

export interface Inspection extends InspectionResult {
  /** `earlyProblems()` right after the piece that completed the head; empty if the stream is shorter. */
  readonly earlyAtHead: readonly string[];
  /** `earlyProblems()` after the last piece, just before `finish()`. */
  readonly earlyBeforeFinish: readonly string[];
  /** The inspector's `retainedBytes` at the end. */
  readonly retainedBytes: number;
}

/** Streams the file through an inspector in pieces of `pieceSize` bytes (the last one shorter). */
export async function inspectFile(path: string, pieceSize: number): Promise<Inspection> {
  const highWaterMark = Math.min(pieceSize, 1 << 30);
  const pieces: AsyncIterable<Buffer> = createReadStream(path, { highWaterMark });
  return inspectPieces(pieces, pieceSize);
}

/** Feeds `data` through an inspector in pieces of `pieceSize` bytes. */
export async function inspectBuffer(data: Buffer, pieceSize: number): Promise<Inspection> {
  async function* pieces(): AsyncIterable<Buffer> {
    for (let at = 0; at < data.length; at += pieceSize) yield data.subarray(at, at + pieceSize);
  }
  return inspectPieces(pieces(), pieceSize);
}

async function inspectPieces(pieces: AsyncIterable<Buffer>, pieceSize: number): Promise<Inspection> {
  const inspector = createFormatInspector();
  let seen = 0;
  let earlyAtHead: string[] = [];
  // A file stream may hand out shorter pieces than asked; regroup so the inspector sees exactly pieceSize.
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  const push = (piece: Buffer) => {
    inspector.update(piece);
    const before = seen;
    seen += piece.length;
    if (before < HEAD_BYTES && seen >= HEAD_BYTES) earlyAtHead = inspector.earlyProblems();
  };
  for await (const chunk of pieces) {
    pending.push(chunk);
    pendingBytes += chunk.length;
    while (pendingBytes >= pieceSize) {
      const all = Buffer.concat(pending);
      push(all.subarray(0, pieceSize));
      pending = [all.subarray(pieceSize)];
      pendingBytes -= pieceSize;
    }
  }
  if (pendingBytes > 0) push(Buffer.concat(pending));
  const earlyBeforeFinish = inspector.earlyProblems();
  const result = inspector.finish();
  return { ...result, earlyAtHead, earlyBeforeFinish, retainedBytes: inspector.retainedBytes };
}
