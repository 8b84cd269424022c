/**
 * VMware VMDK: accepts only a single-file monolithicSparse or streamOptimized disk whose embedded descriptor
 * names no file but itself, and refuses text descriptors that point at other files (CVE-2022-47951).
 *
 * Sparse extent header (`SparseExtentHeader`, little-endian, packed), from VMware's "Virtual Disk Format 5.0":
 * ```
 *   0  magicNumber         4  "KDMV"
 *   4  version             4  1, 2 or 3
 *   8  flags               4
 *  12  capacity            8  virtual size in 512-byte sectors
 *  20  grainSize           8
 *  28  descriptorOffset    8  in sectors; QEMU reads the embedded descriptor at sector 1 (byte 512)
 *  36  descriptorSize      8  in sectors
 *  44  numGTEsPerGT        4
 *  48  rgdOffset           8
 *  56  gdOffset            8  0xffffffffffffffff (GD_AT_END): read the footer instead of this header
 * ```
 * A streamOptimized disk with GD_AT_END ends with a footer marker (type 3 at byte 12 of a 512-byte marker),
 * a copy of the header holding the real values, and an end-of-stream marker: the footer header is at
 * `length - 1024`. A text descriptor file (no binary header) starts with comment lines then `version=1`.
 * @module
 */
import {
  HEAD_BYTES,
  quoteUntrusted,
  readSafeU64,
  startsWithAscii,
  type FormatMatch,
  type StreamView,
} from './probe.js';

const SECTOR = 512;
const GD_AT_END = 0xffffffffffffffffn;
const MARKER_FOOTER = 3;
/** The only create types whose data lives in the one uploaded file. */
const ALLOWED_CREATE_TYPES = ['monolithicSparse', 'streamOptimized'] as const;
const EXTENT_ACCESS = ['RW', 'RDONLY', 'NOACCESS'] as const;
const CONVERT_HINT =
  'convert it to a single-file VMDK first (qemu-img convert -O vmdk -o subformat=streamOptimized <image> <out.vmdk>)';

/** Probes for VMDK: a binary sparse header ("KDMV"), a VMware 3 header ("COWD"), or a text descriptor file. */
export function probeVmdk(view: StreamView): FormatMatch | null {
  const head = view.bytes(0, Math.min(view.length, SECTOR));
  if (head === undefined) return null;
  if (startsWithAscii(head, 'KDMV')) return probeSparse(view);
  if (startsWithAscii(head, 'COWD')) {
    return {
      virtualSize: null,
      problems: [`VMware 3 (COWD) sparse VMDK is not accepted: ${CONVERT_HINT}`],
      wants: [],
    };
  }
  if (looksLikeTextDescriptor(view)) return probeDescriptorFile(view);
  return null;
}

function probeSparse(view: StreamView): FormatMatch {
  const problems: string[] = [];
  const header = view.bytes(0, SECTOR);
  if (header === undefined) {
    return {
      virtualSize: null,
      problems: [`truncated VMDK header: the image is ${view.length} bytes`],
      wants: [],
    };
  }
  const version = header.readUInt32LE(4);
  if (version < 1 || version > 3) problems.push(`unsupported VMDK sparse header version ${version}`);

  // With GD_AT_END the footer's copy of the header is the one QEMU uses; it is only known at the end.
  let capacitySource: Buffer | undefined = header;
  if (header.readBigUInt64LE(56) === GD_AT_END) {
    capacitySource = readFooter(view);
    if (capacitySource === undefined && view.ended) {
      problems.push('streamOptimized VMDK keeps its grain directory at the end but has no footer');
    }
  }
  const virtualSize = capacitySource === undefined ? null : capacityBytes(capacitySource);
  if (capacitySource !== undefined && virtualSize === null) {
    problems.push('VMDK capacity is too large to be a real disk');
  }

  const descriptorOffset = header.readBigUInt64LE(28);
  const descriptorSectors = header.readBigUInt64LE(36);
  if (descriptorSectors === 0n) {
    problems.push('VMDK has no embedded descriptor, so its create type and extents cannot be checked');
  } else if (descriptorOffset !== 1n || descriptorSectors > BigInt((HEAD_BYTES - SECTOR) / SECTOR)) {
    problems.push(
      `VMDK descriptor at sector ${descriptorOffset} (${descriptorSectors} sectors) is outside the header area`,
    );
  } else {
    const text = view.bytes(SECTOR, Number(descriptorSectors) * SECTOR);
    if (text === undefined) problems.push('truncated VMDK: the descriptor runs past the end of the image');
    else problems.push(...checkDescriptor(text, 'embedded'));
  }
  return { virtualSize, problems, wants: [] };
}

/** The footer's copy of the header, if the tail holds a footer marker followed by a "KDMV" header. */
function readFooter(view: StreamView): Buffer | undefined {
  if (!view.ended || view.length < 3 * SECTOR) return undefined;
  const marker = view.bytes(view.length - 3 * SECTOR, SECTOR);
  const footer = view.bytes(view.length - 2 * SECTOR, SECTOR);
  if (marker === undefined || footer === undefined) return undefined;
  if (marker.readUInt32LE(12) !== MARKER_FOOTER || !startsWithAscii(footer, 'KDMV')) return undefined;
  return footer;
}

function capacityBytes(header: Buffer): number | null {
  const sectors = readSafeU64(header, 12, 'le');
  return sectors === null || sectors > Number.MAX_SAFE_INTEGER / SECTOR ? null : sectors * SECTOR;
}

/** QEMU's probe: skip blank and `#` lines; the first other line must be `version=`. */
function looksLikeTextDescriptor(view: StreamView): boolean {
  const sample = view.bytes(0, Math.min(view.length, 4096));
  if (sample === undefined) return false;
  for (const line of sample.toString('latin1').split('\n')) {
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    return /^version\s*=/.test(trimmed);
  }
  return false;
}

function probeDescriptorFile(view: StreamView): FormatMatch {
  const text = view.bytes(0, Math.min(view.length, HEAD_BYTES)) ?? Buffer.alloc(0);
  const problems = [
    `the upload is a VMDK descriptor file, whose data lives in other files: ${CONVERT_HINT}`,
    ...checkDescriptor(text, 'file'),
  ];
  if (view.length > HEAD_BYTES) problems.push('VMDK descriptor file is larger than 1 MiB');
  const sectors = parseDescriptor(text).extents.reduce((sum, e) => sum + e.sectors, 0);
  return { virtualSize: sectors > 0 ? sectors * SECTOR : null, problems, wants: [] };
}

interface Extent {
  readonly access: string;
  readonly sectors: number;
  readonly type: string;
  readonly fileName: string;
}

interface Descriptor {
  readonly fields: Map<string, string>;
  readonly extents: Extent[];
  /** Lines that are neither comment, blank, `key = value`, `ddb.*` nor an extent. */
  readonly unknownLines: string[];
  readonly binary: boolean;
}

/** Parses the descriptor cautiously: text up to the first NUL, one construct per line. */
function parseDescriptor(data: Buffer): Descriptor {
  const nul = data.indexOf(0);
  const raw = data.subarray(0, nul === -1 ? data.length : nul);
  // Only printable ASCII, tab, CR and LF: anything else is not a descriptor QEMU or VMware wrote.
  const binary = raw.some((b) => (b < 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d) || b > 0x7e);
  const fields = new Map<string, string>();
  const extents: Extent[] = [];
  const unknownLines: string[] = [];
  for (const line of raw.toString('latin1').split('\n')) {
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    const extent = /^(\S+)\s+(\d+)\s+(\S+)(?:\s+"([^"]*)"(?:\s+(\d+))?)?$/.exec(trimmed);
    if (extent && (EXTENT_ACCESS as readonly string[]).includes(extent[1] ?? '')) {
      extents.push({
        access: extent[1] ?? '',
        sectors: Number(extent[2]),
        type: extent[3] ?? '',
        fileName: extent[4] ?? '',
      });
      continue;
    }
    const field = /^([A-Za-z][\w.]*)\s*=\s*(.*)$/.exec(trimmed);
    if (field) {
      fields.set((field[1] ?? '').toLowerCase(), (field[2] ?? '').replace(/^"(.*)"$/, '$1'));
      continue;
    }
    unknownLines.push(trimmed);
  }
  return { fields, extents, unknownLines, binary };
}

/**
 * Checks a descriptor against the allowlist. An embedded descriptor must describe the file itself: create
 * type monolithicSparse or streamOptimized, exactly one SPARSE extent with a bare file name, no parent.
 */
function checkDescriptor(data: Buffer, kind: 'embedded' | 'file'): string[] {
  const d = parseDescriptor(data);
  if (d.binary) return ['VMDK descriptor is not plain ASCII text'];
  const problems: string[] = [];
  for (const line of d.unknownLines.slice(0, 3)) {
    problems.push(`VMDK descriptor has a line Ferry does not understand: ${quoteUntrusted(line)}`);
  }
  const createType = d.fields.get('createtype');
  if (createType === undefined) {
    problems.push('VMDK descriptor has no createType');
  } else if (!(ALLOWED_CREATE_TYPES as readonly string[]).includes(createType)) {
    problems.push(
      `VMDK createType ${quoteUntrusted(createType)} is not accepted (only ${ALLOWED_CREATE_TYPES.join(', ')})`,
    );
  }
  const parent = d.fields.get('parentfilenamehint');
  if (parent !== undefined) {
    problems.push(`VMDK has a parent (backing) disk ${quoteUntrusted(parent)}: ${CONVERT_HINT}`);
  }
  for (const e of d.extents) {
    const selfLike =
      kind === 'embedded' && e.type === 'SPARSE' && e.fileName !== '' && !/[/\\]/.test(e.fileName);
    if (!selfLike) {
      problems.push(
        `VMDK descriptor names a ${quoteUntrusted(e.type)} extent in file ${quoteUntrusted(e.fileName)}; ` +
          'only a single-file VMDK is accepted',
      );
    }
  }
  if (d.extents.length === 0) problems.push('VMDK descriptor names no extent');
  if (kind === 'embedded' && d.extents.length > 1) {
    problems.push(`VMDK descriptor names ${d.extents.length} extents; a monolithic disk has exactly one`);
  }
  return problems;
}
