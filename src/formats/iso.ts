/**
 * ISO 9660 (and UDF) optical disc images: recognised by the volume descriptor after the 32 KiB system area.
 * The system area itself (bytes 0..32767) is free for boot code, which is where a polyglot hides another
 * format's header; the inspector refuses any stream that more than one probe claims.
 *
 * Layout, from ECMA-119 (ISO 9660) and ECMA-167 (UDF):
 * ```
 *      0  system area               32 KiB, unspecified (MBR/GPT of a hybrid ISO, boot code)
 *  32768  volume descriptor set     2048-byte descriptors: type (1), standard identifier (5), version (1)
 *                                   "CD001" = ISO 9660; "BEA01", then "NSR02"/"NSR03" = UDF
 * ```
 * The virtual size of an ISO is its byte length, known once the stream has ended.
 * @module
 */
import { startsWithAscii, type FormatMatch, type StreamView } from './probe.js';

const DESCRIPTORS_OFFSET = 32 * 1024;
const DESCRIPTOR_SIZE = 2048;
/** How many descriptors after "BEA01" may precede the UDF "NSR0x" one. */
const UDF_SEARCH = 4;

/** Probes for an ISO 9660 or UDF image. Never reports problems of its own: a plain ISO is just data. */
export function probeIso(view: StreamView): FormatMatch | null {
  const id = view.bytes(DESCRIPTORS_OFFSET + 1, 5);
  const isIso9660 = startsWithAscii(id, 'CD001');
  const isUdf = startsWithAscii(id, 'BEA01') && hasUdfDescriptor(view);
  if (!isIso9660 && !isUdf) return null;
  return { virtualSize: view.ended ? view.length : null, problems: [], wants: [] };
}

function hasUdfDescriptor(view: StreamView): boolean {
  for (let i = 1; i <= UDF_SEARCH; i++) {
    const id = view.bytes(DESCRIPTORS_OFFSET + i * DESCRIPTOR_SIZE + 1, 5);
    if (startsWithAscii(id, 'NSR02') || startsWithAscii(id, 'NSR03')) return true;
  }
  return false;
}
