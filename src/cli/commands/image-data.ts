/**
 * `ferry image upload` and `ferry image download`: image data streamed between a file and the region in
 * constant memory (`transfer.ts`), with a progress bar on a terminal and plain lines elsewhere.
 * @module
 */
import type { Command } from 'commander';
import type { BackupView } from '../../api/schemas/vault.js';
import type { FerryClient } from '../client.js';
import { example, withContext, type CliContext } from '../context.js';
import { ApiError, UsageError } from '../errors.js';
import { detectDiskFormat, getImage, printImage, resolveImageId } from '../images.js';
import { createProgressDisplay } from '../progress.js';
import { downloadImage, uploadFile } from '../transfer.js';
import { formatBytes } from '../units.js';

/**
 * Uploads `file` into a queued image, setting its disk and container formats first when it has none (the
 * disk format detected from the file unless given). A refused upload says what the image's state now is.
 */
export async function uploadIntoImage(
  ctx: CliContext,
  client: FerryClient,
  imageId: string,
  file: string,
  formats: { diskFormat?: string; containerFormat?: string } = {},
): Promise<void> {
  const image = await getImage(client, imageId);
  const patch: Array<Record<string, unknown>> = [];
  if (image.disk_format === null || formats.diskFormat !== undefined) {
    const value = formats.diskFormat ?? (await detectDiskFormat(file));
    if (value !== image.disk_format) patch.push({ op: 'replace', path: '/disk_format', value });
  }
  if (image.container_format === null || formats.containerFormat !== undefined) {
    const value = formats.containerFormat ?? 'bare';
    if (value !== image.container_format) patch.push({ op: 'replace', path: '/container_format', value });
  }
  if (patch.length > 0) {
    await client.request('PATCH', `/v2/images/${imageId}`, {
      json: patch,
      headers: { 'content-type': 'application/openstack-images-v2.1-json-patch' },
    });
  }
  try {
    await uploadFile(client, imageId, file, createProgressDisplay(ctx.progressMode));
  } catch (error) {
    if (error instanceof ApiError) {
      const after = await getImage(client, imageId).catch(() => undefined);
      if (after) ctx.out.warn(`image ${imageId} is now ${after.status}`);
    }
    throw error;
  }
}

export function registerImageDataCommands(image: Command): void {
  example(
    image
      .command('upload')
      .argument('<image>', 'image ID or name (a queued image)')
      .requiredOption('--file <path>', 'the image data')
      .option(
        '--disk-format <format>',
        'set the disk format first (default: detected when the image has none)',
      )
      .option(
        '--container-format <format>',
        'set the container format first (default: bare when it has none)',
      )
      .description('Upload an image’s data from a file, in constant memory, with progress.'),
    'ferry image upload my-image --file disk.qcow2',
  ).action(
    withContext<[string], { file: string; diskFormat?: string; containerFormat?: string }>(
      async (ctx, o, ref) => {
        const client = await ctx.client();
        const id = await resolveImageId(client, ref);
        await uploadIntoImage(ctx, client, id, o.file, o);
        printImage(ctx, await getImage(client, id));
      },
    ),
  );

  example(
    image
      .command('download')
      .argument('<image>', 'image ID or name')
      .option('--file <path>', 'write the data here (default: stdout, when it is not a terminal)')
      .option('--disk <index>', 'a whole-server image: download this disk (0: the system disk)')
      .description('Download an image’s data, checking its MD5 checksum, with progress.'),
    'ferry image download my-image --file disk.qcow2',
    'ferry image download my-server --disk 1 --file data-disk-1.qcow2',
    'ferry image download my-image | qemu-img info /dev/stdin',
  ).action(
    withContext<[string], { file?: string; disk?: string }>(async (ctx, o, ref) => {
      if (o.disk !== undefined && !/^\d+$/.test(o.disk))
        throw new UsageError(`--disk must be a disk index (0, 1, ...), not ${o.disk}`);
      if (o.file === undefined && process.stdout.isTTY) {
        throw new UsageError(
          'refusing to write image data to a terminal: give --file PATH or redirect stdout',
        );
      }
      const client = await ctx.client();
      const image = await getImage(client, await resolveImageId(client, ref));
      const disk =
        o.disk === undefined
          ? undefined
          : (
              await client.request<{ disks: BackupView[] }>('GET', `/v1/cloudimages/${image.id}/disks`)
            ).disks.find((d) => d.disk_index === Number(o.disk));
      if (o.disk !== undefined && disk === undefined)
        throw new UsageError(`image ${image.id} has no disk ${o.disk}`);
      const result = await downloadImage(
        client,
        disk ? disk.file : `/v2/images/${image.id}/file`,
        o.file,
        createProgressDisplay(ctx.progressMode),
        disk ? disk.checksum : image.checksum,
      );
      if (o.file === undefined) return; // stdout carries the data itself.
      ctx.out.emit({
        json: { id: image.id, file: o.file, bytes: result.bytes, checksum: result.md5 },
        ids: [image.id],
        human: () =>
          `Downloaded ${formatBytes(result.bytes)} of image ${image.id}${disk ? ` disk ${disk.disk_index}` : ''} to ${o.file} (MD5 ${result.md5}).`,
      });
    }),
  );
}
