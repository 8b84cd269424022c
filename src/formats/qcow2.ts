/**
 * QEMU qcow2: reads the header and its extensions from the head and refuses images that would make a
 * reader open other files (a backing file, CVE-2015-5163; an external data file, CVE-2024-32498).
 *
 * On-disk header, big-endian, field names as in QEMU's docs/interop/qcow2.txt:
 * ```
 *   0  magic                    4  "QFI\xfb"
 *   4  version                  4  2 (compat=0.10) or 3 (compat=1.1)
 *   8  backing_file_offset      8  0 = no backing file
 *  16  backing_file_size        4  length of the name (no NUL), at most 1023
 *  20  cluster_bits             4  9..21 (512 B .. 2 MiB clusters)
 *  24  size                     8  virtual disk size in bytes
 *  32  crypt_method             4
 *  36  l1_size .. 64 snapshots_offset        (not used here)
 *  --- version 3 only ---
 *  72  incompatible_features    8  bit 0 dirty, 1 corrupt, 2 external data file, 3 compression type,
 *                                  4 extended L2 entries; higher bits are unknown
 *  80  compatible_features      8
 *  88  autoclear_features       8
 *  96  refcount_order           4
 * 100  header_length            4  >= 104; v2 headers are always 72 bytes
 * ```
 * Header extensions follow at header_length, inside the first cluster: each is `type` (4), `length` (4), then
 * `length` bytes padded to a multiple of 8; type 0 ends the list. Type 0x44415441 is the external data file
 * name; 0xe2792aca the backing file format name.
 * @module
 */
import { HEAD_BYTES, hex, quoteUntrusted, readSafeU64, type FormatMatch, type StreamView } from './probe.js';

const QCOW2_MAGIC = 0x514649fb;
const V2_HEADER_LENGTH = 72;
const V3_MIN_HEADER_LENGTH = 104;
const MIN_CLUSTER_BITS = 9;
const MAX_CLUSTER_BITS = 21;
/** QEMU refuses longer backing file names (block/qcow2.c, 1023). */
const MAX_BACKING_NAME = 1023;

const INCOMPAT_DATA_FILE_BIT = 2n;
/** Bits 0..4 are defined by the spec (dirty, corrupt, data file, compression type, extended L2). */
const INCOMPAT_KNOWN_MASK = 0x1fn;

const EXT_END = 0x00000000;
const EXT_DATA_FILE = 0x44415441;

/** Flatten advice shared by the backing file and data file messages. */
const FLATTEN_HINT =
  'convert it to a standalone image first (qemu-img convert -O qcow2 <image> <standalone.qcow2>)';

/** Probes for qcow2. Matches on the magic alone, so a truncated or damaged header is a qcow2 with problems. */
export function probeQcow2(view: StreamView): FormatMatch | null {
  const magic = view.bytes(0, 4);
  if (magic === undefined || magic.readUInt32BE(0) !== QCOW2_MAGIC) return null;
  const problems: string[] = [];
  const done = (virtualSize: number | null): FormatMatch => ({ virtualSize, problems, wants: [] });

  const base = view.bytes(0, V2_HEADER_LENGTH);
  if (base === undefined) {
    problems.push(
      `truncated qcow2 header: the image is ${view.length} bytes, the header needs ${V2_HEADER_LENGTH}`,
    );
    return done(null);
  }
  const version = base.readUInt32BE(4);
  if (version !== 2 && version !== 3) {
    problems.push(`unsupported qcow2 version ${version} (Ferry accepts versions 2 and 3)`);
    return done(null);
  }

  const size = readSafeU64(base, 24, 'be');
  if (size === null) problems.push('qcow2 header field size is too large to be a real disk');

  const clusterBits = base.readUInt32BE(20);
  if (clusterBits < MIN_CLUSTER_BITS || clusterBits > MAX_CLUSTER_BITS) {
    problems.push(`qcow2 cluster_bits is ${clusterBits}, outside ${MIN_CLUSTER_BITS}..${MAX_CLUSTER_BITS}`);
    return done(size);
  }
  const clusterSize = 2 ** clusterBits;

  const backingOffset = base.readBigUInt64BE(8);
  if (backingOffset !== 0n) problems.push(describeBackingFile(view, base, backingOffset));

  let headerLength = V2_HEADER_LENGTH;
  if (version === 3) {
    const v3 = view.bytes(0, V3_MIN_HEADER_LENGTH);
    if (v3 === undefined) {
      problems.push(
        `truncated qcow2 version 3 header: the image is ${view.length} bytes, the header needs ${V3_MIN_HEADER_LENGTH}`,
      );
      return done(size);
    }
    const incompatible = v3.readBigUInt64BE(72);
    if ((incompatible >> INCOMPAT_DATA_FILE_BIT) & 1n) {
      problems.push(`qcow2 incompatible_features has the external data file bit set: ${FLATTEN_HINT}`);
    }
    if (incompatible & ~INCOMPAT_KNOWN_MASK) {
      problems.push(`qcow2 incompatible_features has unknown bits set (${hex(incompatible)})`);
    }
    headerLength = v3.readUInt32BE(100);
    if (headerLength < V3_MIN_HEADER_LENGTH || headerLength % 8 !== 0 || headerLength > clusterSize) {
      problems.push(`qcow2 header_length ${headerLength} is invalid (cluster size ${clusterSize})`);
      return done(size);
    }
  }

  problems.push(...checkExtensions(view, headerLength, clusterSize));
  return done(size);
}

function describeBackingFile(view: StreamView, header: Buffer, offset: bigint): string {
  const nameLength = header.readUInt32BE(16);
  const where = `backing_file_offset ${hex(offset)}`;
  let name = '';
  if (nameLength > 0 && nameLength <= MAX_BACKING_NAME && offset <= BigInt(HEAD_BYTES)) {
    const bytes = view.bytes(Number(offset), nameLength);
    if (bytes !== undefined) name = ` ${quoteUntrusted(bytes)}`;
  }
  return `qcow2 image has a backing file${name} (${where}): ${FLATTEN_HINT}`;
}

/**
 * Walks the header extensions. They must end (type 0) inside the first cluster and inside the head; an
 * extension list that runs past what the inspector kept is refused rather than guessed at.
 */
function checkExtensions(view: StreamView, start: number, clusterSize: number): string[] {
  const limit = Math.min(clusterSize, HEAD_BYTES);
  const problems: string[] = [];
  let offset = start;
  for (;;) {
    if (offset + 8 > limit) {
      problems.push(`qcow2 header extensions run past byte ${limit} without an end marker`);
      return problems;
    }
    const ext = view.bytes(offset, 8);
    if (ext === undefined) {
      problems.push(
        `truncated qcow2 header: the header extensions at ${offset} run past the end of the image`,
      );
      return problems;
    }
    const type = ext.readUInt32BE(0);
    const length = ext.readUInt32BE(4);
    if (type === EXT_END) return problems;
    const dataStart = offset + 8;
    const dataEnd = dataStart + length;
    if (dataEnd > limit) {
      problems.push(`qcow2 header extension ${hex(type)} (length ${length}) runs past byte ${limit}`);
      return problems;
    }
    if (type === EXT_DATA_FILE) {
      const name = view.bytes(dataStart, length);
      const shown = name === undefined ? '' : ` ${quoteUntrusted(name)}`;
      problems.push(`qcow2 image names an external data file${shown}: ${FLATTEN_HINT}`);
    }
    offset = dataStart + Math.ceil(length / 8) * 8;
  }
}
