/**
 * Microsoft VHDX: follows the region table (in the head) to the metadata region (anywhere in the file, usually
 * past the head, so it is captured as it streams by) to read the virtual disk size and refuse differencing
 * disks, which name a parent file.
 *
 * Layout (little-endian), from Microsoft's [MS-VHDX] specification:
 * ```
 *        0  file type identifier     "vhdxfile"
 *  192 KiB  region table             "regi" (4), checksum (4), entry count (4), reserved (4), then entries of
 *                                    32 bytes: GUID (16), file offset (8), length (4), required (4)
 *  metadata region (from the region table entry with the metadata GUID), 1 MiB aligned:
 *        0  metadata table header    "metadata" (8), reserved (2), entry count (2), reserved (20)
 *       32  entries of 32 bytes      item GUID (16), offset from the region start (4), length (4), flags (4:
 *                                    bit 2 = required), reserved (4)
 *  items:   Virtual Disk Size        u64 bytes
 *           File Parameters          block size (4), flags (4: bit 1 = HasParent)
 *           Parent Locator           present only in differencing disks
 * ```
 * GUIDs are stored as a little-endian u32, two little-endian u16, then 8 bytes in order.
 * @module
 */
import {
  hex,
  readSafeU64,
  startsWithAscii,
  type ByteRange,
  type FormatMatch,
  type StreamView,
} from './probe.js';

const MIB = 1024 * 1024;
const REGION_TABLE_OFFSET = 192 * 1024;
const REGION_TABLE_SIZE = 64 * 1024;
const METADATA_TABLE_SIZE = 64 * 1024;
/** Both tables hold at most 2047 entries after their 16- or 32-byte header (the spec's limit). */
const MAX_ENTRIES = 2047;
const ITEM_REQUIRED = 1 << 2;
const HAS_PARENT = 1 << 1;

const REGION_BAT = guid('2DC27766-F623-4200-9D64-115E9BFD4A08');
const REGION_METADATA = guid('8B7CA206-4790-4B9A-B8FE-575F050F886E');
const ITEM_FILE_PARAMETERS = guid('CAA16737-FA36-4D43-B3B6-33F0AA44E76B');
const ITEM_VIRTUAL_DISK_SIZE = guid('2FA54224-CD1B-4876-B211-5DBED83BF4B8');
const ITEM_PARENT_LOCATOR = guid('A8D35F2D-B30B-454D-ABF7-D3D84834AB0C');
const KNOWN_ITEMS = [
  ITEM_FILE_PARAMETERS,
  ITEM_VIRTUAL_DISK_SIZE,
  ITEM_PARENT_LOCATOR,
  guid('BECA12AB-B2E6-4523-93EF-C309E000C746'), // Page 83 Data
  guid('8141BF1D-A96F-4709-BA47-F233A8FAAB5F'), // Logical Sector Size
  guid('CDA348C7-445D-4471-9CC9-E9885251C556'), // Physical Sector Size
];

const PARENT_HINT =
  'VHDX is a differencing disk with a parent (backing) disk: convert it to a standalone image first ' +
  '(qemu-img convert -O vhdx <image> <out.vhdx>)';

/** Probes for VHDX by its identifier, then walks region table → metadata table → items. */
export function probeVhdx(view: StreamView): FormatMatch | null {
  if (!startsWithAscii(view.bytes(0, 8), 'vhdxfile')) return null;
  const problems: string[] = [];
  const wants: ByteRange[] = [];
  const result = (virtualSize: number | null): FormatMatch => ({ virtualSize, problems, wants });

  const metadata = findMetadataRegion(view, problems);
  if (metadata === null) return result(null);

  const table = view.bytes(metadata.offset, METADATA_TABLE_SIZE);
  if (table === undefined) {
    if (view.ended)
      problems.push(`VHDX metadata table at ${hex(metadata.offset)} is past the end of the image`);
    else wants.push({ offset: metadata.offset, length: METADATA_TABLE_SIZE });
    return result(null);
  }
  if (!startsWithAscii(table, 'metadata')) {
    problems.push(`VHDX metadata table at ${hex(metadata.offset)} has no "metadata" signature`);
    return result(null);
  }
  const count = table.readUInt16LE(10);
  if (count > MAX_ENTRIES) {
    problems.push(`VHDX metadata table has ${count} entries (limit ${MAX_ENTRIES})`);
    return result(null);
  }

  let sizeItem: ByteRange | undefined;
  let parametersItem: ByteRange | undefined;
  for (let i = 0; i < count; i++) {
    const entry = table.subarray(32 + i * 32, 64 + i * 32);
    const id = entry.subarray(0, 16);
    const item = { offset: metadata.offset + entry.readUInt32LE(16), length: entry.readUInt32LE(20) };
    const flags = entry.readUInt32LE(24);
    if (id.equals(ITEM_PARENT_LOCATOR)) problems.push(PARENT_HINT);
    else if (id.equals(ITEM_VIRTUAL_DISK_SIZE)) sizeItem = item;
    else if (id.equals(ITEM_FILE_PARAMETERS)) parametersItem = item;
    else if (flags & ITEM_REQUIRED && !KNOWN_ITEMS.some((k) => k.equals(id))) {
      problems.push(`VHDX has an unknown required metadata item ${formatGuid(id)}`);
    }
  }

  const parameters = readItem(view, metadata, parametersItem, 'file parameters', problems, wants);
  if (parameters !== undefined && parameters.readUInt32LE(4) & HAS_PARENT) problems.push(PARENT_HINT);
  const size = readItem(view, metadata, sizeItem, 'virtual disk size', problems, wants);
  const virtualSize = size === undefined ? null : readSafeU64(size, 0, 'le');
  if (size !== undefined && virtualSize === null) problems.push('VHDX virtual disk size is too large');
  return result(virtualSize);
}

/** The metadata region from the region table in the head, or null (with a problem) if there is none. */
function findMetadataRegion(view: StreamView, problems: string[]): ByteRange | null {
  const table = view.bytes(REGION_TABLE_OFFSET, REGION_TABLE_SIZE);
  if (table === undefined) {
    problems.push(
      `truncated VHDX: the region table at ${hex(REGION_TABLE_OFFSET)} is past the end of the image`,
    );
    return null;
  }
  if (!startsWithAscii(table, 'regi')) {
    problems.push('VHDX region table has no "regi" signature');
    return null;
  }
  const count = table.readUInt32LE(8);
  if (count > MAX_ENTRIES) {
    problems.push(`VHDX region table has ${count} entries (limit ${MAX_ENTRIES})`);
    return null;
  }
  let metadata: ByteRange | null = null;
  for (let i = 0; i < count; i++) {
    const entry = table.subarray(16 + i * 32, 48 + i * 32);
    const id = entry.subarray(0, 16);
    if (id.equals(REGION_METADATA)) {
      const offset = readSafeU64(entry, 16, 'le');
      const length = entry.readUInt32LE(24);
      if (offset === null || offset < MIB || offset % MIB !== 0 || length < METADATA_TABLE_SIZE) {
        problems.push(`VHDX metadata region (offset ${offset ?? 'too large'}, length ${length}) is invalid`);
        return null;
      }
      metadata = { offset, length };
    } else if (!id.equals(REGION_BAT) && entry.readUInt32LE(28) !== 0) {
      problems.push(`VHDX has an unknown required region ${formatGuid(id)}`);
    }
  }
  if (metadata === null) problems.push('VHDX region table has no metadata region');
  return metadata;
}

/** Reads an 8-byte metadata item; asks for it while it lies ahead; a problem if it can't be had. */
function readItem(
  view: StreamView,
  region: ByteRange,
  item: ByteRange | undefined,
  name: string,
  problems: string[],
  wants: ByteRange[],
): Buffer | undefined {
  if (item === undefined) {
    problems.push(`VHDX metadata has no ${name} item`);
    return undefined;
  }
  const relative = item.offset - region.offset;
  if (item.length !== 8 || relative < METADATA_TABLE_SIZE || relative + 8 > region.length) {
    problems.push(`VHDX ${name} item (offset ${relative}, length ${item.length}) is invalid`);
    return undefined;
  }
  const data = view.bytes(item.offset, 8);
  if (data !== undefined) return data;
  if (view.ended)
    problems.push(`VHDX ${name} item at ${hex(item.offset)} was not available to the inspector`);
  else wants.push({ offset: item.offset, length: 8 });
  return undefined;
}

function guid(text: string): Buffer {
  const hexText = text.replaceAll('-', '');
  const out = Buffer.from(hexText, 'hex');
  out.writeUInt32LE(Number.parseInt(hexText.slice(0, 8), 16), 0);
  out.writeUInt16LE(Number.parseInt(hexText.slice(8, 12), 16), 4);
  out.writeUInt16LE(Number.parseInt(hexText.slice(12, 16), 16), 6);
  return out;
}

function formatGuid(data: Buffer): string {
  const h = (n: number, width: number) => n.toString(16).padStart(width, '0');
  const tail = data.subarray(8, 16).toString('hex');
  return [
    h(data.readUInt32LE(0), 8),
    h(data.readUInt16LE(4), 4),
    h(data.readUInt16LE(6), 4),
    tail.slice(0, 4),
    tail.slice(4),
  ]
    .join('-')
    .toUpperCase();
}
