/**
 * `ferry admin runtime [--reset]`: a region process's memory and how long its event loop was held over the
 * current window (GET /v1/admin/runtime; `--reset` ends the window and starts a new one). For an operator
 * who wants to know whether a region is starved (e.g. during a large scrub) without a metrics stack.
 * @module
 */
import type { Command } from 'commander';
import { example, withContext } from '../context.js';
import { formatBytes } from '../units.js';

interface RuntimeStats {
  pid: number;
  uptime_seconds: number;
  memory: {
    rss_bytes: number;
    heap_used_bytes: number;
    heap_total_bytes: number;
    array_buffers_bytes: number;
  };
  event_loop_delay: { since: string; samples: number; max_ms: number; p99_ms: number; mean_ms: number };
}

export function registerAdminRuntimeCommand(admin: Command): void {
  example(
    admin
      .command('runtime')
      .description(
        "A region process's memory and its event loop's longest stall since the window began (administrators).",
      )
      .option('--reset', 'end the window (its figures are shown) and start a new one'),
    'ferry admin runtime --region south-1 --reset',
  ).action(
    withContext<[], { reset?: boolean }>(async (ctx, o) => {
      const client = await ctx.client();
      const stats =
        o.reset === true
          ? await client.request<RuntimeStats>('POST', '/v1/admin/runtime/reset')
          : await client.request<RuntimeStats>('GET', '/v1/admin/runtime');
      const { memory, event_loop_delay: loop } = stats;
      ctx.out.emit({
        json: stats,
        ids: [],
        human: () =>
          [
            `Process ${stats.pid}, up ${stats.uptime_seconds} s: RSS ${formatBytes(memory.rss_bytes)}, ` +
              `JavaScript heap ${formatBytes(memory.heap_used_bytes)} of ${formatBytes(memory.heap_total_bytes)}, ` +
              `array buffers ${formatBytes(memory.array_buffers_bytes)}.`,
            `Event loop since ${loop.since}: longest stall ${loop.max_ms} ms, p99 ${loop.p99_ms} ms, ` +
              `mean ${loop.mean_ms} ms (${loop.samples} samples).`,
          ].join('\n'),
      });
    }),
  );
}
