/**
 * `ferry admin storage gc|scrub`: run a region's garbage collection or scrub now (administrators). Both also
 * run on their own timers in every region (docs/architecture.md, "Data path"); these are for an operator who
 * wants the answer now, e.g. after a disk incident.
 * @module
 */
import type { Command } from 'commander';
import { example, withContext } from '../context.js';
import { CliError, EXIT_CODES, UsageError } from '../errors.js';
import { formatBytes, parseSize } from '../units.js';

interface GcReport {
  chunksKept: number;
  chunksDeleted: number;
  bytesDeleted: number;
  manifestsDeleted: number;
  packsCompacted: number;
  bytesReclaimed: number;
}

interface ScrubReport {
  chunksChecked: number;
  bytesChecked: number;
  corruptChunks: string[];
  missingChunks: string[];
  badManifests: string[];
  damagedImages: string[];
}

export function registerAdminStorageCommands(admin: Command): void {
  const storage = example(
    admin
      .command('storage')
      .description("A region's chunk store: garbage collection and scrub (administrators)."),
    'ferry admin storage scrub --region north-1',
  );

  example(
    storage
      .command('gc')
      .description('Delete the chunks and manifests nothing references, now.')
      .option('--grace <seconds>', 'spare objects younger than this (default: the region’s grace period)'),
    'ferry admin storage gc --grace 0',
  ).action(
    withContext<[], { grace?: string }>(async (ctx, o) => {
      const grace = o.grace === undefined ? undefined : Number(o.grace);
      if (grace !== undefined && (!Number.isInteger(grace) || grace < 0)) {
        throw new UsageError(`--grace must be a whole number of seconds, not ${o.grace}`);
      }
      const report = await (
        await ctx.client()
      ).request<GcReport>('POST', '/v1/admin/gc', {
        json: grace === undefined ? {} : { grace_seconds: grace },
      });
      ctx.out.emit({
        json: report,
        ids: [],
        human: () =>
          `Deleted ${report.chunksDeleted} chunks (${formatBytes(report.bytesDeleted)}) and ` +
          `${report.manifestsDeleted} manifests; kept ${report.chunksKept} chunks; ` +
          `freed ${formatBytes(report.bytesReclaimed)} by compacting ${report.packsCompacted} packs.`,
      });
    }),
  );

  example(
    storage
      .command('scrub')
      .description(
        'Re-read every stored chunk and check its SHA-256; delete the corrupt ones and list the images they ' +
          'leave damaged. Exits 5 if it found damage.',
      )
      .option('--rate <bytes>', 'read at most this much per second, e.g. 200MiB (default: no cap)'),
    'ferry admin storage scrub --rate 200MiB',
  ).action(
    withContext<[], { rate?: string }>(async (ctx, o) => {
      const rate = o.rate === undefined ? undefined : parseSize(o.rate, '--rate');
      const report = await (
        await ctx.client()
      ).request<ScrubReport>('POST', '/v1/admin/scrub', {
        json: rate === undefined ? {} : { bytes_per_second: rate },
      });
      ctx.out.emit({
        json: report,
        ids: report.damagedImages,
        human: () =>
          [
            `Checked ${report.chunksChecked} chunks (${formatBytes(report.bytesChecked)}).`,
            `Corrupt chunks, deleted: ${report.corruptChunks.join(', ') || 'none'}`,
            `Missing chunks: ${report.missingChunks.join(', ') || 'none'}`,
            `Unreadable manifests: ${report.badManifests.join(', ') || 'none'}`,
            `Damaged images: ${report.damagedImages.join(', ') || 'none'}`,
          ].join('\n'),
      });
      const damage = report.corruptChunks.length + report.missingChunks.length + report.badManifests.length;
      if (damage > 0) {
        throw new CliError(
          `the scrub found damaged data; ${report.damagedImages.length} images cannot be read in full until ` +
            'the same data is uploaded or replicated into this region again',
          EXIT_CODES.DAMAGED,
        );
      }
    }),
  );
}
