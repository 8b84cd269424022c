/**
 * Warm free memory before a timed step, so every step and the baseline write page cache under the same
 * condition.
 *
 * Why: on this kind of VM (Firecracker with free page reporting) guest pages that were freed a few seconds
 * ago are handed back to the host, and the first touch of such a page costs a host fault. Writing 2 GiB of
 * new page cache then takes ~5 s of system time instead of ~0.5 s (measured with `dd` of 2 GiB: 4.4-6.3 s
 * cold, 0.49 s right after deleting a 2 GiB file). The baseline's second and third `cp` reuse the pages
 * the previous copy just freed, so they run warm; a step that runs later, after the pages went back to the
 * host, would pay the faults and compare unfairly. A child process that touches `bytes` of memory and
 * exits leaves that many pages freed moments ago: warm, as on a host whose memory is already backed.
 * @module
 */
import { GiB, run } from './lib.js';

/** Touches `bytes` of anonymous memory in a child process that then exits (untimed, ~1 s per GiB cold). */
export async function warmFreeMemory(bytes: number): Promise<void> {
  const script = `const parts = []; for (let left = ${bytes}; left > 0; left -= ${GiB}) parts.push(Buffer.alloc(Math.min(left, ${GiB}), 1));`;
  await run(process.execPath, ['-e', script], { maxBuffer: 1024 * 1024 });
}
