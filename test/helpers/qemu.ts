/**
 * Builds real disk images for tests with qemu-img / qemu-io (Debian qemu-utils) and ISO images with
 * genisoimage, and reads back what `qemu-img info` says about them.
 * @module
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Formats qemu-img can create; `vhd` is QEMU's `vpc`. */
export type QemuImageFormat = 'raw' | 'qcow2' | 'vmdk' | 'vhd' | 'vhdx';

const QEMU_NAME: Record<QemuImageFormat, string> = {
  raw: 'raw',
  qcow2: 'qcow2',
  vmdk: 'vmdk',
  vhd: 'vpc',
  vhdx: 'vhdx',
};

export interface MakeImageOptions {
  /** Random bytes written at guest offset 0 through qemu-io, so the format lays out real data clusters. */
  randomData?: number;
  /** A backing file (`qemu-img create -b`), given as a path. */
  backingFile?: string;
  /** The backing file's format (default: qcow2 for qcow2 images, vmdk for vmdk images). */
  backingFormat?: string;
  /** An external data file (qcow2 only, `-o data_file=`), given as a path; it is created by qemu-img. */
  dataFile?: string;
  /** vmdk: monolithicSparse (default), streamOptimized, monolithicFlat...; vhd: dynamic (default), fixed. */
  subformat?: string;
  /** qcow2 only: '0.10' (version 2) or '1.1' (version 3, the default). */
  compat?: '0.10' | '1.1';
  /** The file name inside `dir` (default: `image.<format>`). */
  name?: string;
}

/** Creates an image with qemu-img (and fills it with qemu-io when asked); returns its path. */
export async function makeImage(
  dir: string,
  format: QemuImageFormat,
  sizeBytes: number,
  options: MakeImageOptions = {},
): Promise<string> {
  const path = join(dir, options.name ?? `image.${format}`);
  const qemuFormat = QEMU_NAME[format];
  const createOptions: string[] = [];
  if (options.subformat !== undefined) createOptions.push(`subformat=${options.subformat}`);
  if (options.compat !== undefined) createOptions.push(`compat=${options.compat}`);
  if (options.dataFile !== undefined) createOptions.push(`data_file=${options.dataFile}`);
  const args = ['create', '-q', '-f', qemuFormat];
  if (createOptions.length > 0) args.push('-o', createOptions.join(','));
  if (options.backingFile !== undefined) {
    args.push('-b', options.backingFile, '-F', options.backingFormat ?? qemuFormat);
  }
  args.push(path, String(sizeBytes));
  await run('qemu-img', args);

  if (options.randomData !== undefined && options.randomData > 0) {
    const source = join(dir, `${options.name ?? 'image'}.random`);
    await writeFile(source, randomBytes(options.randomData));
    await run('qemu-io', ['-f', qemuFormat, '-c', `write -q -s ${source} 0 ${options.randomData}`, path]);
  }
  return path;
}

export interface MakeIsoOptions {
  /** Files to put on the disc, by name (default: one small README). */
  files?: Record<string, Buffer | string>;
  /** The ISO's file name inside `dir` (default: `image.iso`). */
  name?: string;
}

/** Creates an ISO 9660 image (Rock Ridge + Joliet) with genisoimage; returns its path. */
export async function makeIso(dir: string, options: MakeIsoOptions = {}): Promise<string> {
  const name = options.name ?? 'image.iso';
  const root = join(dir, `${name}.root`);
  await mkdir(root, { recursive: true });
  for (const [file, content] of Object.entries(options.files ?? { 'README.TXT': 'Ferry test disc\n' })) {
    await writeFile(join(root, file), content);
  }
  const path = join(dir, name);
  await run('genisoimage', ['-quiet', '-R', '-J', '-V', 'FERRYTEST', '-o', path, root]);
  return path;
}

export interface QemuImgInfo {
  /** The virtual size qemu-img reports, in bytes. */
  virtualSize: number;
  /** The format qemu-img used (probed, or the one passed in). */
  format: string;
  /** The whole `qemu-img info --output json` object. */
  json: Record<string, unknown>;
}

/** `qemu-img info --output json`; pass `format` for formats qemu does not probe (a fixed VHD needs 'vhd'). */
export async function qemuImgInfo(path: string, format?: QemuImageFormat): Promise<QemuImgInfo> {
  const args = ['info', '--output', 'json'];
  if (format !== undefined) args.push('-f', QEMU_NAME[format]);
  const { stdout } = await run('qemu-img', [...args, path]);
  const json = JSON.parse(stdout) as Record<string, unknown>;
  return { virtualSize: Number(json['virtual-size']), format: String(json.format), json };
}
