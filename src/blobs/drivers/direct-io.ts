/**
 * O_DIRECT for the fs driver: aligned memory found by trial, and a pool of aligned staging buffers that
 * writes copy through and reads are lent from.
 *
 * Why O_DIRECT at all: measured on the 2-core dev VM (a Firecracker guest whose free memory is handed back
 * to the host, so every page cache page it has not used recently costs a host fault), writing 2 GiB as 1 MiB
 * pieces with fdatasync: buffered 4.2-6.4 s with 4.8-5.1 s of system CPU, O_DIRECT 2.0-2.5 s with 0.5-1.4 s;
 * reading 1 GiB not in the page cache: buffered 1.39 s with 1.21 s of system CPU, O_DIRECT 0.47 s with
 * 0.07 s. The price: a chunk read twice comes from the disk twice.
 * @module
 */
import { constants as fsConstants } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { open, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { PRIVATE_FILE_MODE } from '../../lib/private-files.js';

/** O_DIRECT needs buffer address, file offset and length aligned; 4 KiB covers every common device. */
export const DIRECT_IO_ALIGNMENT = 4096;

/**
 * Size of one staging buffer: a block more than a chunk, so that a read which fills it is known to be of an
 * object too large for it without asking its size first. Larger objects go through it in pieces.
 */
export const DIRECT_IO_STAGE_BYTES = 1024 * 1024 + DIRECT_IO_ALIGNMENT;

/** `length` rounded up to a multiple of DIRECT_IO_ALIGNMENT. */
export function alignUp(length: number): number {
  return Math.ceil(length / DIRECT_IO_ALIGNMENT) * DIRECT_IO_ALIGNMENT;
}

export function isErrno(error: unknown, code: string): boolean {
  return error instanceof Error && (error as NodeJS.ErrnoException).code === code;
}

/**
 * Memory known to be aligned for O_DIRECT: for each ArrayBuffer carved into aligned buffers, the residue
 * (modulo DIRECT_IO_ALIGNMENT) of the byte offsets that are aligned. Only alignedBuffers adds to it.
 */
const alignedResidue = new WeakMap<ArrayBufferLike, number>();

/** Whether `data` starts at an address O_DIRECT accepts (as far as this module knows). */
export function isAligned(data: Uint8Array): boolean {
  return alignedResidue.get(data.buffer) === data.byteOffset % DIRECT_IO_ALIGNMENT;
}

/**
 * `count` buffers of `size` bytes (a multiple of DIRECT_IO_ALIGNMENT) whose addresses are aligned, carved
 * out of one ArrayBuffer (a SharedArrayBuffer if `shared`), or undefined if O_DIRECT is unavailable in
 * `probeDir`. JavaScript cannot see a buffer's address, so the alignment is found by trial: O_DIRECT writes
 * from an unaligned address fail with EINVAL, and malloc'd memory is 16-byte aligned, so one of the first
 * 256 offsets of a 16-byte step works.
 */
export async function alignedBuffers(
  probeDir: string,
  count: number,
  size = DIRECT_IO_STAGE_BYTES,
  shared = false,
): Promise<Buffer[] | undefined> {
  const { O_DIRECT, O_WRONLY, O_CREAT, O_EXCL } = fsConstants;
  if (O_DIRECT === undefined) return undefined; // not Linux
  const bytes = count * size + DIRECT_IO_ALIGNMENT;
  const memory = shared ? Buffer.from(new SharedArrayBuffer(bytes)) : Buffer.allocUnsafeSlow(bytes);
  const probe = join(probeDir, `${process.pid}-${randomBytes(8).toString('hex')}`);
  let handle;
  try {
    handle = await open(probe, O_WRONLY | O_CREAT | O_EXCL | O_DIRECT, PRIVATE_FILE_MODE);
  } catch {
    return undefined;
  }
  try {
    for (let offset = 0; offset < DIRECT_IO_ALIGNMENT; offset += 16) {
      try {
        await handle.write(memory, offset, DIRECT_IO_ALIGNMENT, 0);
      } catch (error) {
        if (isErrno(error, 'EINVAL')) continue;
        return undefined;
      }
      alignedResidue.set(memory.buffer, (memory.byteOffset + offset) % DIRECT_IO_ALIGNMENT);
      return Array.from({ length: count }, (_, i) =>
        memory.subarray(offset + i * size, offset + (i + 1) * size),
      );
    }
    return undefined;
  } finally {
    await handle.close();
    await unlink(probe).catch(() => undefined);
  }
}

/**
 * A fixed set of aligned staging buffers. Buffers go to callers in the order they asked, so a reader that
 * asks in the order it will give them back never waits on one its own later read holds.
 */
export class StagePool {
  private readonly free: Buffer[];
  private readonly waiters: Array<(stage: Buffer) => void> = [];

  constructor(stages: Buffer[]) {
    this.free = [...stages];
  }

  /** A free stage; when none is, the next one given back. With `waitMs`, undefined if none came within it. */
  acquire(): Promise<Buffer>;
  acquire(waitMs: number): Promise<Buffer | undefined>;
  acquire(waitMs?: number): Promise<Buffer | undefined> {
    const free = this.free.pop();
    if (free !== undefined) return Promise.resolve(free);
    return new Promise<Buffer | undefined>((resolve) => {
      const waiter = (stage: Buffer): void => {
        clearTimeout(timer);
        resolve(stage);
      };
      const timer =
        waitMs === undefined
          ? undefined
          : setTimeout(() => {
              const at = this.waiters.indexOf(waiter);
              if (at >= 0) this.waiters.splice(at, 1);
              resolve(undefined);
            }, waitMs);
      this.waiters.push(waiter);
    });
  }

  release(stage: Buffer): void {
    const waiter = this.waiters.shift();
    if (waiter !== undefined) waiter(stage);
    else this.free.push(stage);
  }
}
