/**
 * The machine's own event-loop stalls, as a baseline for the region processes' (bench/targets.ts): an idle
 * Node process that measures its loop with the same `monitorEventLoopDelay` settings as a region process
 * (src/lib/runtime-stats.ts). A stall that the idle process shows too came from the machine (the VM
 * descheduled, the host's disk holding every process), not from Ferry's code.
 * @module
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { stopChild, type Cleanup } from './lib.js';

/** On each line of stdin: print the window's longest stall and p99 (ms, timer interval taken off), restart it. */
const SCRIPT = `
const { monitorEventLoopDelay } = require('node:perf_hooks');
const loop = monitorEventLoopDelay({ resolution: 10 });
loop.enable();
const ms = (ns) => Math.max(0, Math.round(ns / 1e4) / 100 - 10);
require('node:readline').createInterface({ input: process.stdin }).on('line', () => {
  const window = loop.count === 0 ? { maxMs: 0, p99Ms: 0 } : { maxMs: ms(loop.max), p99Ms: ms(loop.percentile(99)) };
  loop.reset();
  process.stdout.write(JSON.stringify(window) + '\\n');
});
process.stdout.write('ready\\n');
`;

export interface LoopBaseline {
  /** Ends the current window: its longest stall and p99, in ms; the next window starts now. */
  window(): Promise<{ maxMs: number; p99Ms: number }>;
}

export async function startLoopBaseline(cleanup: Cleanup): Promise<LoopBaseline> {
  const child = spawn(process.execPath, ['-e', SCRIPT], { stdio: ['pipe', 'pipe', 'inherit'] });
  cleanup.add(() => stopChild(child));
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const next = async (): Promise<string> => {
    const line = await Promise.race([
      lines.next(),
      once(child, 'exit').then(() => {
        throw new Error('the event-loop baseline process ended');
      }),
    ]);
    if (line.done === true) throw new Error('the event-loop baseline process closed its output');
    return line.value;
  };
  if ((await next()) !== 'ready') throw new Error('the event-loop baseline process did not start');
  return {
    async window() {
      child.stdin.write('\n');
      return JSON.parse(await next()) as { maxMs: number; p99Ms: number };
    },
  };
}
