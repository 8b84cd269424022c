/**
 * Microsoft VHD (QEMU's "vpc"): a dynamic disk starts with a copy of its 512-byte footer; a fixed disk is raw
 * data with the footer only at the end, so it can only be recognised once the stream has ended.
 *
 * Footer (big-endian), from Microsoft's "Virtual Hard Disk Image Format Specification":
 * ```
 *   0  cookie               8  "conectix"
 *  16  data offset          8  offset of the dynamic disk header; all ones for a fixed disk
 *  28  creator application  4  "qemu", "vpc ", "win ", ... (decides how QEMU computes the size)
 *  48  current size         8  bytes
 *  56  disk geometry        4  cylinders (2), heads (1), sectors per track (1)
 *  60  disk type            4  2 fixed, 3 dynamic, 4 differencing (has a parent disk)
 *  64  checksum             4  ones' complement of the byte sum of the footer with this field zeroed
 * ```
 * The dynamic disk header at `data offset` starts with the cookie "cxsparse".
 * @module
 */
import { HEAD_BYTES, readSafeU64, startsWithAscii, type FormatMatch, type StreamView } from './probe.js';

const FOOTER_SIZE = 512;
const SECTOR = 512;
const DISK_TYPE_FIXED = 2;
const DISK_TYPE_DYNAMIC = 3;
const DISK_TYPE_DIFFERENCING = 4;
/** QEMU's VHD_MAX_GEOMETRY: at this geometry the footer's current size is used instead. */
const MAX_GEOMETRY_SECTORS = 65535 * 16 * 255;
/** QEMU's VHD_MAX_SECTORS (2040 GiB). */
const MAX_SECTORS = 0xff000000;
/** Creators whose size is the footer's current size; the others (QEMU's "qemu", Virtual PC) use CHS. */
const CURRENT_SIZE_CREATORS = ['win ', 'qem2', 'd2v ', 'CTXS', 'tap\0', 'wa\0\0'];

/** Probes for VHD: the footer copy at offset 0 (dynamic, differencing), or at the end (fixed). */
export function probeVhd(view: StreamView): FormatMatch | null {
  const first = view.bytes(0, FOOTER_SIZE);
  if (startsWithAscii(view.bytes(0, 8), 'conectix')) {
    if (first === undefined) {
      return {
        virtualSize: null,
        problems: [`truncated VHD footer: the image is ${view.length} bytes`],
        wants: [],
      };
    }
    return checkFooter(view, first, 'start');
  }
  if (!view.ended || view.length < FOOTER_SIZE) return null;
  const last = view.bytes(view.length - FOOTER_SIZE, FOOTER_SIZE);
  // A raw disk can end with anything: only a footer with a valid checksum makes it a fixed VHD.
  if (last === undefined || !startsWithAscii(last, 'conectix') || !checksumValid(last)) return null;
  return checkFooter(view, last, 'end');
}

function checkFooter(view: StreamView, footer: Buffer, at: 'start' | 'end'): FormatMatch {
  const problems: string[] = [];
  if (!checksumValid(footer)) problems.push('VHD footer checksum is wrong');
  const diskType = footer.readUInt32BE(60);
  if (diskType === DISK_TYPE_DIFFERENCING) {
    problems.push(
      'VHD is a differencing disk with a parent (backing) disk: convert it to a standalone image first ' +
        '(qemu-img convert -O vpc <image> <out.vhd>)',
    );
  } else if (at === 'end' && diskType !== DISK_TYPE_FIXED) {
    problems.push(
      `VHD footer at the end says disk type ${diskType} but there is no footer copy at the start`,
    );
  } else if (at === 'start' && diskType !== DISK_TYPE_DYNAMIC) {
    problems.push(
      `VHD disk type ${diskType} is not a dynamic disk, but the footer copy at the start says so`,
    );
  }
  if (at === 'start') problems.push(...checkDynamicHeader(view, footer));

  const virtualSize = sizeOf(footer);
  if (virtualSize === null) problems.push('VHD size is larger than 2040 GiB, the VHD limit');
  return { virtualSize, problems, wants: [] };
}

function checkDynamicHeader(view: StreamView, footer: Buffer): string[] {
  const offset = readSafeU64(footer, 16, 'be');
  if (offset === null || offset + 1024 > HEAD_BYTES) {
    return ['VHD dynamic disk header is not in the first 1 MiB'];
  }
  const header = view.bytes(offset, 8);
  if (header === undefined) return ['truncated VHD: the dynamic disk header runs past the end of the image'];
  return startsWithAscii(header, 'cxsparse') ? [] : ['VHD dynamic disk header has no "cxsparse" cookie'];
}

/** The virtual size as QEMU computes it: CHS geometry, unless the creator or the geometry says otherwise. */
function sizeOf(footer: Buffer): number | null {
  let sectors = footer.readUInt16BE(56) * footer.readUInt8(58) * footer.readUInt8(59);
  const creator = footer.toString('latin1', 28, 32);
  if (CURRENT_SIZE_CREATORS.includes(creator) || sectors === MAX_GEOMETRY_SECTORS) {
    const currentSize = readSafeU64(footer, 48, 'be');
    if (currentSize === null) return null;
    sectors = Math.floor(currentSize / SECTOR);
  }
  return sectors > MAX_SECTORS ? null : sectors * SECTOR;
}

function checksumValid(footer: Buffer): boolean {
  let sum = 0;
  for (let i = 0; i < FOOTER_SIZE; i++) {
    if (i < 64 || i >= 68) sum += footer[i] ?? 0;
  }
  return ~sum >>> 0 === footer.readUInt32BE(64);
}
