/**
 * Hostile and mislabelled images: backing files, external data files, VMDK extents on host files,
 * differencing VHD/VHDX, polyglots, truncated headers, and declared formats that don't match the data.
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { isFerryError, type ErrorCode } from '../../../src/domain/errors.js';
import { assertImageAcceptable, type InspectionResult } from '../../../src/formats/inspector.js';
import { makeImage, makeIso } from '../../helpers/qemu.js';
import { makeTempDir } from '../../helpers/tmp.js';
import { PIECE_SIZES, inspectBuffer, inspectFile, type Inspection } from './feed.js';

const MIB = 1024 * 1024;

function assertRefused(declared: string, result: InspectionResult, code: ErrorCode, pattern?: RegExp): void {
  assert.throws(
    () => assertImageAcceptable(declared, result),
    (e: unknown) => isFerryError(e, code) && (pattern === undefined || pattern.test(e.message)),
    `declared ${declared} should be refused with ${code}`,
  );
}

function assertProblem(result: Inspection, pattern: RegExp): void {
  assert.ok(
    result.problems.some((p) => pattern.test(p)),
    `expected a problem matching ${pattern}, got ${JSON.stringify(result.problems)}`,
  );
}

/** Inspects the file in every piece size and checks the same problem is found each time. */
async function inspectEveryWay(path: string, pattern: RegExp): Promise<Inspection> {
  let last: Inspection | undefined;
  for (const pieceSize of PIECE_SIZES) {
    last = await inspectFile(path, pieceSize);
    assertProblem(last, pattern);
  }
  assert.ok(last !== undefined);
  return last;
}

interface Qcow2HeaderOptions {
  version?: number;
  backingFileOffset?: bigint;
  backingFileSize?: number;
  clusterBits?: number;
  size?: bigint;
  incompatibleFeatures?: bigint;
  headerLength?: number;
  extensions?: { type: number; data: Buffer; length?: number }[];
  /** Length of the whole buffer (the header is at its start, zeros after). */
  totalLength?: number;
}

/** A hand-made qcow2 header (fields as in QEMU's docs/interop/qcow2.txt), followed by zeros. */
function qcow2Header(o: Qcow2HeaderOptions = {}): Buffer {
  const version = o.version ?? 3;
  const headerLength = o.headerLength ?? (version === 3 ? 104 : 72);
  const buf = Buffer.alloc(o.totalLength ?? 256 * 1024);
  buf.writeUInt32BE(0x514649fb, 0);
  buf.writeUInt32BE(version, 4);
  buf.writeBigUInt64BE(o.backingFileOffset ?? 0n, 8);
  buf.writeUInt32BE(o.backingFileSize ?? 0, 16);
  buf.writeUInt32BE(o.clusterBits ?? 16, 20);
  buf.writeBigUInt64BE(o.size ?? BigInt(64 * MIB), 24);
  if (version === 3) {
    buf.writeBigUInt64BE(o.incompatibleFeatures ?? 0n, 72);
    buf.writeUInt32BE(4, 96); // refcount_order
    buf.writeUInt32BE(headerLength, 100);
  }
  let at = headerLength;
  for (const ext of o.extensions ?? []) {
    buf.writeUInt32BE(ext.type, at);
    buf.writeUInt32BE(ext.length ?? ext.data.length, at + 4);
    ext.data.copy(buf, at + 8);
    at += 8 + Math.ceil(ext.data.length / 8) * 8;
  }
  return buf; // the end-of-extensions marker is the zeros that follow
}

test('qcow2 with a backing file (qemu-img create -b) is refused, early', async (t) => {
  const dir = await makeTempDir(t);
  const base = await makeImage(dir, 'qcow2', 64 * MIB, { name: 'base.qcow2' });
  const overlay = await makeImage(dir, 'qcow2', 64 * MIB, {
    backingFile: base,
    randomData: 2 * MIB,
    name: 'o.qcow2',
  });
  const result = await inspectEveryWay(overlay, /backing file ".*base\.qcow2"/);
  assert.equal(result.format, 'qcow2');
  assert.equal(result.virtualSize, 64 * MIB);
  assert.ok(
    result.earlyAtHead.some((p) => /backing file/.test(p)),
    'known as soon as the head is in',
  );
  assertRefused('qcow2', result, 'UNSAFE_IMAGE', /backing file/);
  assertRefused('raw', result, 'UNSAFE_IMAGE');
});

test('qcow2 with an external data file (qemu-img create -o data_file=) is refused', async (t) => {
  const dir = await makeTempDir(t);
  const path = await makeImage(dir, 'qcow2', 64 * MIB, { dataFile: join(dir, 'data.raw') });
  const result = await inspectEveryWay(path, /external data file ".*data\.raw"/);
  assertProblem(result, /incompatible_features has the external data file bit/);
  assertRefused('qcow2', result, 'UNSAFE_IMAGE', /data file/);
});

test('qcow2 data file: the incompatible feature bit alone is refused', async () => {
  const result = await inspectBuffer(qcow2Header({ incompatibleFeatures: 1n << 2n }), 7919);
  assert.deepEqual(result.problems.length, 1);
  assertProblem(result, /external data file bit/);
});

test('qcow2 data file: the header extension alone is refused', async () => {
  const data = Buffer.from('/dev/sda', 'latin1');
  const result = await inspectBuffer(qcow2Header({ extensions: [{ type: 0x44415441, data }] }), 7919);
  assert.deepEqual(result.problems.length, 1);
  assertProblem(result, /external data file "\/dev\/sda"/);
});

test('qcow2 v2 with a data file extension is refused too', async () => {
  const data = Buffer.from('/etc/shadow', 'latin1');
  const result = await inspectBuffer(
    qcow2Header({ version: 2, extensions: [{ type: 0x44415441, data }] }),
    7919,
  );
  assertProblem(result, /external data file "\/etc\/shadow"/);
});

test('qcow2 with a backing_file_offset beyond the head is refused without reading the name', async () => {
  const header = qcow2Header({
    backingFileOffset: BigInt(5 * MIB),
    backingFileSize: 11,
    totalLength: 6 * MIB,
  });
  header.write('/etc/passwd', 5 * MIB, 'latin1');
  for (const pieceSize of PIECE_SIZES) {
    const result = await inspectBuffer(header, pieceSize);
    assertProblem(result, /backing file \(backing_file_offset 0x500000\)/);
    assert.ok(result.earlyAtHead.length > 0, 'known at the head, before the name streams by');
  }
});

test('qcow2 header extensions that run past the head are refused rather than guessed', async () => {
  // 2 MiB clusters allow extensions past the 1 MiB the inspector keeps.
  const header = qcow2Header({
    clusterBits: 21,
    extensions: [{ type: 0x6803f857, data: Buffer.alloc(16), length: 1536 * 1024 }],
    totalLength: 3 * MIB,
  });
  const result = await inspectBuffer(header, MIB);
  assertProblem(result, /header extension 0x6803f857 .* runs past byte 1048576/);
  assertRefused('qcow2', result, 'UNSAFE_IMAGE');
});

test('qcow2 extensions without an end marker before the head ends are refused', async () => {
  const header = qcow2Header({ clusterBits: 21, totalLength: 2 * MIB });
  // Fill the whole head with back-to-back 8-byte "feature table" extensions of length 0.
  for (let at = 104; at + 8 <= MIB; at += 8) header.writeUInt32BE(0x6803f857, at);
  const result = await inspectBuffer(header, 7919);
  assertProblem(result, /extensions run past byte 1048576 without an end marker/);
});

test('qcow2 with unknown incompatible features is refused', async () => {
  const result = await inspectBuffer(qcow2Header({ incompatibleFeatures: 1n << 5n }), 7919);
  assertProblem(result, /unknown bits/);
});

test('a truncated qcow2 header is qcow2 with a problem, never raw', async (t) => {
  const dir = await makeTempDir(t);
  const whole = await readFile(await makeImage(dir, 'qcow2', 64 * MIB));
  for (const [cut, pattern] of [
    [50, /truncated qcow2 header: the image is 50 bytes/],
    [90, /truncated qcow2 version 3 header/],
    [3, null],
  ] as const) {
    const result = await inspectBuffer(whole.subarray(0, cut), 7);
    if (pattern === null) {
      assert.equal(result.format, 'raw', 'three bytes are not even a magic number');
      continue;
    }
    assert.equal(result.format, 'qcow2');
    assertProblem(result, pattern);
    assertRefused('raw', result, 'UNSAFE_IMAGE');
  }
});

test('a VMDK text descriptor with a FLAT extent on /etc/passwd is refused', async () => {
  const descriptor = [
    '# Disk DescriptorFile',
    'version=1',
    'CID=fffffffe',
    'parentCID=ffffffff',
    'createType="monolithicFlat"',
    '',
    '# Extent description',
    'RW 2048 FLAT "/etc/passwd" 0',
    '',
  ].join('\n');
  const result = await inspectBuffer(Buffer.from(descriptor, 'latin1'), 7);
  assert.equal(result.format, 'vmdk');
  assert.equal(result.virtualSize, 2048 * 512);
  assertProblem(result, /"FLAT" extent in file "\/etc\/passwd"/);
  assertProblem(result, /createType "monolithicFlat" is not accepted/);
  assertRefused('vmdk', result, 'UNSAFE_IMAGE');
  assertRefused('raw', result, 'UNSAFE_IMAGE');
});

test('a monolithicSparse VMDK whose embedded descriptor names /etc/passwd is refused', async (t) => {
  const dir = await makeTempDir(t);
  const path = await makeImage(dir, 'vmdk', 64 * MIB, { randomData: 2 * MIB });
  const data = await readFile(path);
  const text = data.subarray(512, data.indexOf(0, 512)).toString('latin1');
  const hostile = text.replace(/SPARSE "image\.vmdk"/, 'FLAT "/etc/passwd" 0');
  assert.notEqual(hostile, text);
  data.fill(0, 512, 512 + text.length);
  data.write(hostile, 512, 'latin1');
  await writeFile(path, data);
  const result = await inspectEveryWay(path, /"FLAT" extent in file "\/etc\/passwd"/);
  assert.ok(result.earlyAtHead.length > 0);
});

test('a VMDK with a parent disk (qemu-img create -b) is refused', async (t) => {
  const dir = await makeTempDir(t);
  const base = await makeImage(dir, 'vmdk', 64 * MIB, { name: 'base.vmdk' });
  const child = await makeImage(dir, 'vmdk', 64 * MIB, { backingFile: base, name: 'child.vmdk' });
  await inspectEveryWay(child, /parent \(backing\) disk ".*base\.vmdk"/);
});

test('a monolithicFlat VMDK descriptor (qemu-img) is refused', async (t) => {
  const dir = await makeTempDir(t);
  const path = await makeImage(dir, 'vmdk', 4 * MIB, { subformat: 'monolithicFlat' });
  const result = await inspectEveryWay(path, /VMDK descriptor file/);
  assertProblem(result, /createType "monolithicFlat"/);
  assertProblem(result, /"FLAT" extent in file "image-flat\.vmdk"/);
});

test('a streamOptimized VMDK with its grain directory at the end takes its size from the footer', async (t) => {
  const dir = await makeTempDir(t);
  const data = await readFile(await makeImage(dir, 'vmdk', 64 * MIB, { subformat: 'streamOptimized' }));
  const header = Buffer.from(data.subarray(0, 512));
  const marker = Buffer.alloc(512);
  marker.writeUInt32LE(3, 12); // MARKER_FOOTER
  const stale = Buffer.from(header);
  stale.writeBigUInt64LE(0xffffffffffffffffn, 56); // gdOffset = GD_AT_END
  stale.writeBigUInt64LE(8n, 12); // a capacity the footer overrides
  stale.copy(data, 0);
  const image = Buffer.concat([data, marker, header, Buffer.alloc(512)]);
  for (const pieceSize of [7, ...PIECE_SIZES]) {
    const result = await inspectBuffer(image, pieceSize);
    assert.deepEqual([result.format, result.virtualSize, result.problems], ['vmdk', 64 * MIB, []]);
  }
  const noFooter = await inspectBuffer(Buffer.concat([data, Buffer.alloc(1536)]), 7919);
  assertProblem(noFooter, /no footer/);
});

test('a differencing VHD is refused; a fixed VHD footer with a bad checksum is just raw data', async (t) => {
  const dir = await makeTempDir(t);
  const dynamic = await readFile(await makeImage(dir, 'vhd', 64 * MIB, { name: 'd.vhd' }));
  dynamic.writeUInt32BE(4, 60); // disk type: differencing
  setVhdChecksum(dynamic, 0);
  const differencing = await inspectBuffer(dynamic, 7919);
  assert.equal(differencing.format, 'vhd');
  assertProblem(differencing, /differencing disk with a parent/);

  const fixed = await readFile(await makeImage(dir, 'vhd', MIB, { subformat: 'fixed', name: 'f.vhd' }));
  const checksumAt = fixed.length - 512 + 64;
  fixed.writeUInt32BE((fixed.readUInt32BE(checksumAt) ^ 0xff) >>> 0, checksumAt); // break the footer checksum
  const result = await inspectBuffer(fixed, 7919);
  assert.deepEqual([result.format, result.problems], ['raw', []]);
});

test('a VHDX with HasParent or a parent locator is refused', async (t) => {
  const dir = await makeTempDir(t);
  const original = await readFile(await makeImage(dir, 'vhdx', 64 * MIB));

  const hasParent = Buffer.from(original);
  const parameters = findVhdxItem(hasParent, 'CAA16737-FA36-4D43-B3B6-33F0AA44E76B');
  hasParent.writeUInt32LE(hasParent.readUInt32LE(parameters.item + 4) | 2, parameters.item + 4);
  for (const pieceSize of PIECE_SIZES) {
    assertProblem(await inspectBuffer(hasParent, pieceSize), /VHDX is a differencing disk/);
  }

  const locator = Buffer.from(original);
  const page83 = findVhdxItem(locator, 'BECA12AB-B2E6-4523-93EF-C309E000C746');
  guidBytes('A8D35F2D-B30B-454D-ABF7-D3D84834AB0C').copy(locator, page83.entry);
  const result = await inspectBuffer(locator, MIB);
  assertProblem(result, /VHDX is a differencing disk/);
  assert.deepEqual(result.earlyAtHead, [], 'the metadata region lies past the head...');
  assert.ok(result.earlyBeforeFinish.length > 0, '...and is judged as soon as it has streamed by');
});

test('a qcow2 header hidden in an ISO system area is a refused polyglot', async (t) => {
  const dir = await makeTempDir(t);
  const iso = await readFile(await makeIso(dir, { files: { 'BIG.BIN': Buffer.alloc(2 * MIB, 1) } }));
  const qcow2 = await readFile(await makeImage(dir, 'qcow2', 64 * MIB));
  qcow2.copy(iso, 0, 0, 32 * 1024);
  for (const pieceSize of PIECE_SIZES) {
    const result = await inspectBuffer(iso, pieceSize);
    assertProblem(result, /matches more than one format \(qcow2, iso\)/);
    assert.ok(result.earlyAtHead.some((p) => /more than one format/.test(p)));
    for (const declared of ['iso', 'qcow2', 'raw'])
      assertRefused(declared, result, 'UNSAFE_IMAGE', /polyglot|two formats/);
  }
});

test('declared formats must match the data', async (t) => {
  const dir = await makeTempDir(t);
  const qcow2 = await inspectFile(await makeImage(dir, 'qcow2', 64 * MIB), MIB);
  const raw = await inspectFile(await makeImage(dir, 'raw', 2 * MIB), MIB);
  const iso = await inspectFile(await makeIso(dir), MIB);
  assertRefused(
    'raw',
    qcow2,
    'DISK_FORMAT_MISMATCH',
    /declared raw but the data is qcow2.*disk_format=qcow2/,
  );
  assertRefused(
    'qcow2',
    raw,
    'DISK_FORMAT_MISMATCH',
    /declared qcow2 but the data is raw.*qemu-img convert -O qcow2/,
  );
  assertRefused('vhd', raw, 'DISK_FORMAT_MISMATCH', /qemu-img convert -O vpc/);
  assertRefused('iso', raw, 'DISK_FORMAT_MISMATCH', /ISO 9660/);
  assertRefused('raw', iso, 'DISK_FORMAT_MISMATCH', /disk_format=iso/);
  assertRefused('ami', raw, 'INVALID_DISK_FORMAT');
  assert.doesNotThrow(() => assertImageAcceptable('qcow2', qcow2));
  assert.doesNotThrow(() => assertImageAcceptable('raw', raw));
  assert.doesNotThrow(() => assertImageAcceptable('iso', iso));
});

/** Sets the VHD footer checksum at `at`: ones' complement of the byte sum with the field zeroed. */
function setVhdChecksum(data: Buffer, at: number): void {
  data.writeUInt32BE(0, at + 64);
  let sum = 0;
  for (let i = at; i < at + 512; i++) sum += data[i] ?? 0;
  data.writeUInt32BE(~sum >>> 0, at + 64);
}

function guidBytes(text: string): Buffer {
  const h = text.replaceAll('-', '');
  const out = Buffer.from(h, 'hex');
  out.writeUInt32LE(parseInt(h.slice(0, 8), 16), 0);
  out.writeUInt16LE(parseInt(h.slice(8, 12), 16), 4);
  out.writeUInt16LE(parseInt(h.slice(12, 16), 16), 6);
  return out;
}

/** Finds a metadata item of a qemu-made VHDX by scanning 1 MiB boundaries for the metadata table. */
function findVhdxItem(data: Buffer, id: string): { entry: number; item: number } {
  const wanted = guidBytes(id);
  for (let region = MIB; region < data.length; region += MIB) {
    if (data.toString('latin1', region, region + 8) !== 'metadata') continue;
    const count = data.readUInt16LE(region + 10);
    for (let i = 0; i < count; i++) {
      const entry = region + 32 + i * 32;
      if (data.subarray(entry, entry + 16).equals(wanted)) {
        return { entry, item: region + data.readUInt32LE(entry + 16) };
      }
    }
  }
  throw new Error(`metadata item ${id} not found`);
}
