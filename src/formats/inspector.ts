/**
 * Streaming disk image inspection: watches an upload's bytes go by, tells which format they really are,
 * the virtual size, and whether the image is unsafe to hand to qemu-img (backing files, external data files,
 * VMDK extents naming other files, polyglots), in the spirit of OpenStack's format_inspector.
 *
 * Memory stays bounded whatever the upload's size: the inspector keeps the first 1 MiB, the few regions that
 * parsed headers point to further on (at most CAPTURE_BUDGET_BYTES), and the last TAIL_BYTES. Past the head,
 * `update()` copies at most TAIL_BYTES of each piece, so it costs the same for a 4 KiB or a 1 MiB piece.
 * @module
 */
import { DISK_FORMATS, type DiskFormatName } from '../domain/image.js';
import { FerryError, coerceError } from '../domain/errors.js';
import type { FormatMatch, FormatProbe } from './probe.js';
import { probeIso } from './iso.js';
import { probeQcow2 } from './qcow2.js';
import { createStreamWindow } from './stream-window.js';
import { probeVhd } from './vhd.js';
import { probeVhdx } from './vhdx.js';
import { probeVmdk } from './vmdk.js';

export { DISK_FORMATS };
/** A disk format Ferry can inspect: raw, qcow2, vmdk, vhd (QEMU's "vpc"), vhdx, iso. */
export type DiskFormat = DiskFormatName;

export interface InspectionResult {
  /** The format the bytes are; `raw` when no probe claims them (this includes MBR/GPT disks). */
  readonly format: DiskFormat;
  /** The virtual disk size in bytes (raw and iso: the byte length); null when it cannot be known. */
  readonly virtualSize: number | null;
  /** Safety problems, human readable; empty means safe. */
  readonly problems: readonly string[];
}

export interface FormatInspector {
  /**
   * Takes the next piece of the stream; pieces must be consecutive and may have any size. The piece is
   * copied as needed, never kept, so the caller may reuse its buffer. Throws if called after `finish()`.
   */
  update(data: Buffer): void;
  /**
   * Problems already certain once the head (the first 1 MiB) has been seen (backing file, data file, bad
   * VMDK descriptor, polyglot), so an upload can be aborted early. Empty before the head is complete (a
   * stream shorter than the head is only judged by `finish()`), and empty if there are none yet.
   */
  earlyProblems(): string[];
  /** Judges the whole stream; call after the last `update()`. Idempotent: later calls return the same result. */
  finish(): InspectionResult;
  /** Bytes the inspector holds in memory (at most about 5.5 MiB), for audits and tests. */
  readonly retainedBytes: number;
}

/**
 * The probes, in the order that names a polyglot's format (the first match). raw has no probe: it is what
 * remains when none matches.
 */
const PROBES: readonly (readonly [Exclude<DiskFormat, 'raw'>, FormatProbe])[] = [
  ['qcow2', probeQcow2],
  ['vhdx', probeVhdx],
  ['vmdk', probeVmdk],
  ['vhd', probeVhd],
  ['iso', probeIso],
];

/** Rounds of "probe, capture what probes want" per event: enough for VHDX's region → table → item chain. */
const MAX_CAPTURE_ROUNDS = 8;

/** QEMU's name for each format, for the conversion advice in error messages. */
const QEMU_FORMAT: Record<DiskFormat, string> = {
  raw: 'raw',
  qcow2: 'qcow2',
  vmdk: 'vmdk',
  vhd: 'vpc',
  vhdx: 'vhdx',
  iso: 'raw', // unused: ISO content can't be produced by conversion
};

interface Claim {
  readonly format: Exclude<DiskFormat, 'raw'>;
  readonly match: FormatMatch;
}

/**
 * Creates an inspector for one stream.
 * @example
 * const inspector = createFormatInspector();
 * for await (const piece of body) inspector.update(piece);
 * assertImageAcceptable(image.disk_format, inspector.finish());
 */
export function createFormatInspector(): FormatInspector {
  const window = createStreamWindow();
  let early: string[] = [];
  let result: InspectionResult | undefined;

  function runProbes(): Claim[] {
    const claims: Claim[] = [];
    for (const [format, probe] of PROBES) {
      let match: FormatMatch | null;
      try {
        match = probe(window);
      } catch (e: unknown) {
        // A probe bug must not let an image through unchecked: the format is claimed and refused.
        match = {
          virtualSize: null,
          problems: [`could not parse the ${format} header: ${coerceError(e).message}`],
          wants: [],
        };
      }
      if (match !== null) claims.push({ format, match });
    }
    return claims;
  }

  /** Runs the probes and captures the ranges they want, filling new ones from `piece` where it covers them. */
  function refresh(piece: Buffer, pieceStart: number): void {
    let claims = runProbes();
    for (let round = 0; round < MAX_CAPTURE_ROUNDS; round++) {
      let added = false;
      for (const want of claims.flatMap((c) => c.match.wants)) {
        if (window.capture(want, piece, pieceStart)) added = true;
      }
      if (!added) break;
      claims = runProbes();
    }
    if (window.headComplete) early = judge(claims, null).problems.slice();
  }

  return {
    update(data) {
      if (result !== undefined) throw new Error('format inspector: update() after finish()');
      const pieceStart = window.length;
      if (window.append(data)) refresh(data, pieceStart);
    },

    earlyProblems() {
      return early.slice();
    },

    finish() {
      if (result === undefined) {
        window.end();
        result = judge(runProbes(), window.length);
      }
      return result;
    },

    get retainedBytes() {
      return window.retainedBytes;
    },
  };
}

/** Turns the probes' claims into one result: none is raw, one is that format, several is a refused polyglot. */
function judge(claims: readonly Claim[], streamLength: number | null): InspectionResult {
  const [first] = claims;
  if (first === undefined) return { format: 'raw', virtualSize: streamLength, problems: [] };
  const problems = claims.flatMap((c) => c.match.problems);
  if (claims.length > 1) {
    problems.unshift(
      `the data matches more than one format (${claims.map((c) => c.format).join(', ')}); ` +
        'an image that is two formats at once is refused, since different readers would see different disks',
    );
  }
  return { format: first.format, virtualSize: first.match.virtualSize, problems };
}

function isDiskFormat(value: string): value is DiskFormat {
  return (DISK_FORMATS as readonly string[]).includes(value);
}

/**
 * Checks an inspected upload against its declared `disk_format`. The declared format must equal the detected
 * one: a qcow2 can't pass as raw, and raw data can't pass as qcow2.
 * @throws FerryError INVALID_DISK_FORMAT if `declared` is not a format Ferry inspects; UNSAFE_IMAGE if the
 *   inspection found problems (checked first: an unsafe image is refused whatever its declared format);
 *   DISK_FORMAT_MISMATCH if the data is another format than declared.
 */
export function assertImageAcceptable(declared: string, result: InspectionResult): void {
  if (!isDiskFormat(declared)) {
    throw new FerryError(
      'INVALID_DISK_FORMAT',
      `disk_format ${JSON.stringify(declared)} is not one of ${DISK_FORMATS.join(', ')}`,
      { declared },
    );
  }
  if (result.problems.length > 0) {
    throw new FerryError(
      'UNSAFE_IMAGE',
      `the uploaded ${result.format} image was refused: ${result.problems.join('; ')}`,
      {
        declared,
        detected: result.format,
        problems: [...result.problems],
      },
    );
  }
  if (declared !== result.format) {
    const convert =
      declared === 'iso'
        ? 'an iso image must be an ISO 9660 or UDF disc image'
        : `or convert the file first (qemu-img convert -O ${QEMU_FORMAT[declared]} <file> <converted file>)`;
    throw new FerryError(
      'DISK_FORMAT_MISMATCH',
      `declared ${declared} but the data is ${result.format}: upload it again to an image with ` +
        `disk_format=${result.format}, ${convert}`,
      { declared, detected: result.format },
    );
  }
}
