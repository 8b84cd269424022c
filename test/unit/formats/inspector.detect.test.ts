/**
 * Genuine images made by qemu-img and genisoimage: the inspector names their format and the virtual size
 * qemu-img reports, finds no problem, and piece boundaries don't change the answer.
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { assertImageAcceptable, type DiskFormat } from '../../../src/formats/inspector.js';
import { makeImage, makeIso, qemuImgInfo, type QemuImageFormat } from '../../helpers/qemu.js';
import { makeTempDir } from '../../helpers/tmp.js';
import { PIECE_SIZES, inspectFile } from './feed.js';

const MIB = 1024 * 1024;

interface Case {
  readonly name: string;
  readonly format: DiskFormat;
  /** The qemu format to pass to `qemu-img info` when it doesn't probe the format itself. */
  readonly infoFormat?: QemuImageFormat;
  /** What qemu-img info should call it (a fixed VHD and an ISO look raw to qemu's probe). */
  readonly qemuFormat: string;
  readonly make: (dir: string) => Promise<string>;
}

const CASES: readonly Case[] = [
  {
    name: 'raw',
    format: 'raw',
    qemuFormat: 'raw',
    make: (d) => makeImage(d, 'raw', 3 * MIB, { randomData: MIB }),
  },
  {
    name: 'qcow2 v2 (compat=0.10)',
    format: 'qcow2',
    qemuFormat: 'qcow2',
    make: (d) => makeImage(d, 'qcow2', 64 * MIB, { compat: '0.10', randomData: 2 * MIB }),
  },
  {
    name: 'qcow2 v3 (compat=1.1)',
    format: 'qcow2',
    qemuFormat: 'qcow2',
    make: (d) => makeImage(d, 'qcow2', 64 * MIB, { compat: '1.1', randomData: 2 * MIB }),
  },
  {
    name: 'qcow2 v3, empty (shorter than the head)',
    format: 'qcow2',
    qemuFormat: 'qcow2',
    make: (d) => makeImage(d, 'qcow2', 10 * 1024 * MIB),
  },
  {
    name: 'vmdk monolithicSparse',
    format: 'vmdk',
    qemuFormat: 'vmdk',
    make: (d) => makeImage(d, 'vmdk', 64 * MIB, { subformat: 'monolithicSparse', randomData: 2 * MIB }),
  },
  {
    name: 'vmdk streamOptimized',
    format: 'vmdk',
    qemuFormat: 'vmdk',
    make: (d) => makeImage(d, 'vmdk', 64 * MIB, { subformat: 'streamOptimized', randomData: 2 * MIB }),
  },
  {
    name: 'vhd (vpc) dynamic',
    format: 'vhd',
    qemuFormat: 'vpc',
    make: (d) => makeImage(d, 'vhd', 64 * MIB, { subformat: 'dynamic', randomData: 2 * MIB }),
  },
  {
    name: 'vhd (vpc) fixed',
    format: 'vhd',
    infoFormat: 'vhd',
    qemuFormat: 'vpc',
    make: (d) => makeImage(d, 'vhd', 3 * MIB, { subformat: 'fixed', randomData: MIB }),
  },
  {
    name: 'vhdx',
    format: 'vhdx',
    qemuFormat: 'vhdx',
    make: (d) => makeImage(d, 'vhdx', 64 * MIB, { randomData: 2 * MIB }),
  },
  {
    name: 'iso (genisoimage)',
    format: 'iso',
    qemuFormat: 'raw',
    make: (d) => makeIso(d, { files: { 'DATA.BIN': Buffer.alloc(2 * MIB, 0x5a), 'README.TXT': 'hello\n' } }),
  },
  {
    name: 'iso smaller than the head',
    format: 'iso',
    qemuFormat: 'raw',
    make: (d) => makeIso(d),
  },
];

for (const c of CASES) {
  test(`detects ${c.name} with qemu-img's virtual size, whatever the piece size`, async (t) => {
    const dir = await makeTempDir(t);
    const path = await c.make(dir);
    const info = await qemuImgInfo(path, c.infoFormat);
    assert.equal(info.format, c.qemuFormat, 'the test image is what the case says');
    for (const pieceSize of PIECE_SIZES) {
      const result = await inspectFile(path, pieceSize);
      const label = `${c.name}, ${pieceSize}-byte pieces`;
      assert.equal(result.format, c.format, label);
      assert.equal(result.virtualSize, info.virtualSize, label);
      assert.deepEqual(result.problems, [], label);
      assert.deepEqual(result.earlyAtHead, [], label);
      assert.deepEqual(result.earlyBeforeFinish, [], label);
      assert.doesNotThrow(() => assertImageAcceptable(c.format, result), label);
    }
  });
}

test('an MBR/GPT-partitioned disk is raw', async (t) => {
  const dir = await makeTempDir(t);
  const disk = Buffer.alloc(2 * MIB);
  disk[446 + 4] = 0xee; // protective MBR partition of type 0xEE
  disk.writeUInt16LE(0xaa55, 510);
  disk.write('EFI PART', 512, 'latin1');
  const path = join(dir, 'gpt.img');
  await writeFile(path, disk);
  for (const pieceSize of PIECE_SIZES) {
    const result = await inspectFile(path, pieceSize);
    assert.deepEqual([result.format, result.virtualSize, result.problems], ['raw', 2 * MIB, []]);
  }
});

test('an empty upload is raw of size 0', async (t) => {
  const dir = await makeTempDir(t);
  const path = join(dir, 'empty.img');
  await writeFile(path, Buffer.alloc(0));
  const result = await inspectFile(path, 7919);
  assert.equal(result.format, 'raw');
  assert.equal(result.virtualSize, 0);
  assert.deepEqual(result.problems, []);
});

test("a VHD's size follows qemu's rule: CHS geometry for qemu/Virtual PC, current size for Hyper-V", async (t) => {
  const dir = await makeTempDir(t);
  const original = await readFile(await makeImage(dir, 'vhd', 64 * MIB, { randomData: MIB }));
  for (const creator of ['qemu', 'win ']) {
    const data = Buffer.from(original);
    for (const at of [0, data.length - 512]) {
      data.write(creator, at + 28, 'latin1');
      data.writeBigUInt64BE(BigInt(40 * MIB), at + 48); // current size, unlike the geometry
      data.writeUInt32BE(0, at + 64);
      let sum = 0;
      for (let i = at; i < at + 512; i++) sum += data[i] ?? 0;
      data.writeUInt32BE(~sum >>> 0, at + 64);
    }
    const path = join(dir, `${creator.trim()}.vhd`);
    await writeFile(path, data);
    const info = await qemuImgInfo(path, 'vhd');
    assert.equal(info.virtualSize, creator === 'qemu' ? 67125248 : 40 * MIB, 'qemu-img agrees with the test');
    for (const pieceSize of PIECE_SIZES) {
      const result = await inspectFile(path, pieceSize);
      assert.deepEqual([result.format, result.virtualSize, result.problems], ['vhd', info.virtualSize, []]);
    }
  }
});
