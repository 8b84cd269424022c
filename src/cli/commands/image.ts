/**
 * `ferry image ...`: list, show, create (optionally with its data), update, delete, tag, and the status
 * actions (deactivate, reactivate; freeze and unfreeze for administrators). Data transfer lives in
 * `image-data.ts`, replication and in-region copy in `replicate.ts`.
 * @module
 */
import { basename, extname } from 'node:path';
import type { Command } from 'commander';
import type { FerryClient } from '../client.js';
import { collect, example, withContext, type CliContext } from '../context.js';
import { ApiError, UsageError } from '../errors.js';
import {
  detectDiskFormat,
  getImage,
  printImage,
  listImages,
  resolveImageId,
  statusText,
  type ImageView,
} from '../images.js';
import { formatBytes } from '../units.js';
import { registerImageDataCommands, uploadIntoImage } from './image-data.js';
import { registerReplicateCommands } from './replicate.js';
import { printBackups } from './vault.js';
import type { BackupView } from '../../api/schemas/vault.js';

/**
 * Uploads each disk file as a private disk image (with progress), makes the whole-server image of them, then
 * deletes the disk images: the vault's backups hold their data (no byte is copied). A failure deletes the
 * disk images uploaded so far.
 */
async function createWholeServerImage(
  ctx: CliContext,
  client: FerryClient,
  spec: { name: string; vault: string; disks: string[]; minRam?: number; tags?: string[] },
): Promise<ImageView> {
  const uploaded: string[] = [];
  try {
    for (const [index, file] of spec.disks.entries()) {
      const disk = await client.request<ImageView>('POST', '/v2/images', {
        json: {
          name: `${spec.name}-disk-${index}`,
          visibility: 'private',
          image_type: index === 0 ? 'system-disk' : 'data-disk',
        },
      });
      uploaded.push(disk.id);
      await uploadIntoImage(ctx, client, disk.id, file);
    }
    return await client.request<ImageView>('POST', '/v1/cloudimages/wholeimages', {
      json: { name: spec.name, vault_id: spec.vault, disks: uploaded, min_ram: spec.minRam, tags: spec.tags },
    });
  } finally {
    for (const id of uploaded) {
      await client.request('DELETE', `/v2/images/${id}`).catch((error: unknown) => {
        ctx.out.warn(`could not delete the disk image ${id}: ${(error as Error).message}`);
      });
    }
  }
}

/** Fields `image update` sets with JSON-patch `replace` (they always exist). */
const CORE_FIELDS = [
  'name',
  'visibility',
  'min_disk',
  'min_ram',
  'protected',
  'os_hidden',
  'disk_format',
  'container_format',
];

/** `key=value` pairs from `--property`. */
function parseProperties(pairs: string[] = []): Record<string, string> {
  const properties: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new UsageError(`--property takes key=value, not ${pair}`);
    properties[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return properties;
}

function integer(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) throw new UsageError(`${name} must be a whole number, not ${value}`);
  return Number(value);
}

/** Runs `work` on each image; reports every failure and exits 3 after the rest were done. */
async function forEachImage(
  ctx: CliContext,
  client: FerryClient,
  refs: string[],
  work: (id: string) => Promise<void>,
): Promise<void> {
  let failed: ApiError | undefined;
  for (const ref of refs) {
    try {
      await work(await resolveImageId(client, ref));
    } catch (error) {
      if (!(error instanceof ApiError) || refs.length === 1) throw error;
      ctx.out.warn(`${ref}: ${error.code}: ${error.message}`);
      failed = error;
    }
  }
  if (failed) throw failed;
}

export function registerImageCommands(program: Command): void {
  const image = example(
    program.command('image').description('Images: list, show, create, upload, download, replicate...'),
    'ferry image list',
  );

  example(
    image
      .command('list')
      .description('List the images you can see in the region (every page).')
      .option('--name <name>', 'only images with this name')
      .option('--status <status>', 'only images in this status (queued, saving, active, ...)')
      .option('--visibility <visibility>', 'public, private, shared or community')
      .option('--owner <project>', 'only images owned by this project')
      .option('--tag <tag>', 'only images with this tag (repeatable)', collect)
      .option('--disk-format <format>', 'only images of this disk format')
      .option('--image-type <type>', 'only images of this type (system-disk, data-disk, full-server, iso)')
      .option('--sort <keys>', 'sort keys, e.g. name:asc,size:desc')
      .option('--limit <n>', 'at most this many images')
      .option('--long', 'more columns: owner, checksum, created'),
    'ferry image list --status active --sort name:asc',
    'ferry image list --quiet | xargs -n1 ferry image show',
  ).action(
    withContext<
      [],
      {
        name?: string;
        status?: string;
        visibility?: string;
        owner?: string;
        tag?: string[];
        diskFormat?: string;
        imageType?: string;
        sort?: string;
        limit?: string;
        long?: boolean;
      }
    >(async (ctx, o) => {
      const client = await ctx.client();
      const images = await listImages(
        client,
        {
          name: o.name,
          status: o.status,
          visibility: o.visibility,
          owner: o.owner,
          tag: o.tag,
          disk_format: o.diskFormat,
          image_type: o.imageType,
          sort: o.sort,
        },
        integer(o.limit, '--limit'),
      );
      ctx.out.list(images, {
        id: (i) => i.id,
        empty: 'No images.',
        columns: [
          { header: 'ID', value: (i) => i.id },
          { header: 'Name', value: (i) => i.name },
          { header: 'Status', value: statusText },
          { header: 'Format', value: (i) => i.disk_format },
          { header: 'Size', value: (i) => formatBytes(i.size), align: 'right' },
          { header: 'Visibility', value: (i) => i.visibility },
          ...(o.long
            ? [
                { header: 'Owner', value: (i: ImageView) => i.owner },
                { header: 'Checksum', value: (i: ImageView) => i.checksum },
                { header: 'Created', value: (i: ImageView) => i.created_at },
              ]
            : []),
        ],
      });
    }),
  );

  example(
    image
      .command('disks')
      .argument('<image>', 'whole-server image ID or name')
      .description('List the disks of a whole-server image (backups in its vault).'),
    'ferry image disks my-server',
  ).action(
    withContext<[string]>(async (ctx, _o, ref) => {
      const client = await ctx.client();
      const id = await resolveImageId(client, ref);
      const { disks } = await client.request<{ disks: BackupView[] }>('GET', `/v1/cloudimages/${id}/disks`);
      printBackups(ctx, disks, `Image ${id} has no disks.`);
    }),
  );

  example(
    image.command('show').argument('<image>', 'image ID or name').description('Show an image.'),
    'ferry image show my-image',
    'ferry image show 0c7e…-… --output json | jq .checksum',
  ).action(
    withContext<[string]>(async (ctx, _o, ref) => {
      const client = await ctx.client();
      printImage(ctx, await getImage(client, await resolveImageId(client, ref)));
    }),
  );

  example(
    image
      .command('create')
      .argument('[name]', 'the image name (default: the file name without its extension)')
      .description('Create an image, and upload its data when --file is given (with progress).')
      .option('--file <path>', 'upload this file as the image data')
      .option('--disk-format <format>', 'raw, qcow2, vmdk, vhd, vhdx, iso... (default: detected from --file)')
      .option('--container-format <format>', 'container format', 'bare')
      .option('--visibility <visibility>', 'private, shared, community or public (default: the region’s)')
      .option('--min-disk <GiB>', 'minimum disk size to boot it')
      .option('--min-ram <MiB>', 'minimum RAM to boot it')
      .option('--protected', 'protect the image from deletion')
      .option('--image-type <type>', 'system-disk, data-disk, full-server or iso')
      .option('--cmk-id <key>', 'the encryption key id (an encrypted image is neither shared nor replicated)')
      .option('--property <key=value>', 'a free-form property (repeatable)', collect)
      .option('--tag <tag>', 'a tag (repeatable)', collect)
      .option('--id <uuid>', 'the image ID (default: a new one)')
      .option('--whole-server', 'a whole-server image from --disk files (system disk first) into --vault')
      .option(
        '--disk <path>',
        'whole-server: a disk file to upload (repeatable; the first is the system disk)',
        collect,
      )
      .option('--vault <id>', 'whole-server: the vault (protection type backup) that keeps the disks'),
    'ferry image create --file disk.qcow2',
    'ferry image create web-base --file disk.raw --disk-format raw --property os_distro=debian --tag base',
    'ferry image create web-server --whole-server --disk system.qcow2 --disk data.qcow2 --vault 6f1c…',
  ).action(
    withContext<
      [string | undefined],
      {
        file?: string;
        diskFormat?: string;
        containerFormat: string;
        visibility?: string;
        minDisk?: string;
        minRam?: string;
        protected?: boolean;
        imageType?: string;
        cmkId?: string;
        property?: string[];
        tag?: string[];
        id?: string;
        wholeServer?: boolean;
        disk?: string[];
        vault?: string;
      }
    >(async (ctx, o, name) => {
      const client = await ctx.client();
      if (o.wholeServer || o.disk || o.vault) {
        if (!o.wholeServer || !o.disk?.length || !o.vault || !name)
          throw new UsageError(
            'a whole-server image takes a name, --whole-server, --disk FILE... and --vault ID',
          );
        if (o.file) throw new UsageError('--file is for a disk image; give the disks with --disk');
        const created = await createWholeServerImage(ctx, client, {
          name,
          vault: o.vault,
          disks: o.disk,
          minRam: integer(o.minRam, '--min-ram'),
          tags: o.tag,
        });
        printImage(ctx, created);
        return;
      }
      const diskFormat = o.diskFormat ?? (o.file ? await detectDiskFormat(o.file) : undefined);
      const body = {
        ...parseProperties(o.property),
        name: name ?? (o.file ? basename(o.file, extname(o.file)) : undefined),
        disk_format: diskFormat,
        container_format: diskFormat ? o.containerFormat : undefined,
        visibility: o.visibility,
        min_disk: integer(o.minDisk, '--min-disk'),
        min_ram: integer(o.minRam, '--min-ram'),
        protected: o.protected,
        image_type: o.imageType,
        cmk_id: o.cmkId,
        tags: o.tag,
        id: o.id,
      };
      const created = await client.request<ImageView>('POST', '/v2/images', { json: body });
      if (o.file) {
        await uploadIntoImage(ctx, client, created.id, o.file);
        printImage(ctx, await getImage(client, created.id));
      } else {
        printImage(ctx, created);
      }
    }),
  );

  example(
    image
      .command('update')
      .argument('<image>', 'image ID or name')
      .description('Change an image’s fields and properties (a JSON patch).')
      .option('--name <name>', 'new name')
      .option('--visibility <visibility>', 'private, shared, community or public')
      .option('--min-disk <GiB>', 'minimum disk size')
      .option('--min-ram <MiB>', 'minimum RAM')
      .option('--protected', 'protect from deletion')
      .option('--unprotected', 'allow deletion')
      .option('--hidden', 'hide from the default list (os_hidden)')
      .option('--unhidden', 'show in the default list')
      .option('--disk-format <format>', 'disk format (while queued)')
      .option('--container-format <format>', 'container format (while queued)')
      .option('--property <key=value>', 'set a property (repeatable)', collect)
      .option('--remove-property <key>', 'remove a property (repeatable)', collect),
    'ferry image update my-image --name web-base-v2 --property os_version=12 --remove-property old_key',
  ).action(
    withContext<
      [string],
      {
        name?: string;
        visibility?: string;
        minDisk?: string;
        minRam?: string;
        protected?: boolean;
        unprotected?: boolean;
        hidden?: boolean;
        unhidden?: boolean;
        diskFormat?: string;
        containerFormat?: string;
        property?: string[];
        removeProperty?: string[];
      }
    >(async (ctx, o, ref) => {
      const client = await ctx.client();
      const current = await getImage(client, await resolveImageId(client, ref));
      const changes: Record<string, unknown> = {
        name: o.name,
        visibility: o.visibility,
        min_disk: integer(o.minDisk, '--min-disk'),
        min_ram: integer(o.minRam, '--min-ram'),
        protected: o.protected ? true : o.unprotected ? false : undefined,
        os_hidden: o.hidden ? true : o.unhidden ? false : undefined,
        disk_format: o.diskFormat,
        container_format: o.containerFormat,
        ...parseProperties(o.property),
      };
      const patch: Array<Record<string, unknown>> = [];
      for (const [key, value] of Object.entries(changes)) {
        if (value === undefined) continue;
        const exists = CORE_FIELDS.includes(key) || key in current;
        patch.push({ op: exists ? 'replace' : 'add', path: `/${key}`, value });
      }
      for (const key of o.removeProperty ?? []) patch.push({ op: 'remove', path: `/${key}` });
      if (patch.length === 0)
        throw new UsageError('nothing to change: give at least one option (see --help)');
      const updated = await client.request<ImageView>('PATCH', `/v2/images/${current.id}`, {
        json: patch,
        headers: { 'content-type': 'application/openstack-images-v2.1-json-patch' },
      });
      printImage(ctx, updated);
    }),
  );

  example(
    image.command('delete').argument('<image...>', 'image IDs or names').description('Delete images.'),
    'ferry image delete old-image 3f1c…',
  ).action(
    withContext<[string[]]>(async (ctx, _o, refs) => {
      const client = await ctx.client();
      await forEachImage(ctx, client, refs, async (id) => {
        await client.request('DELETE', `/v2/images/${id}`);
        ctx.out.note(`Deleted image ${id}.`);
      });
    }),
  );

  const tag = example(
    image.command('tag').description('Add or remove image tags.'),
    'ferry image tag add my-image base',
  );
  for (const [verb, method, what] of [
    ['add', 'PUT', 'Add tags to an image.'],
    ['remove', 'DELETE', 'Remove tags from an image.'],
  ] as const) {
    example(
      tag
        .command(verb)
        .argument('<image>', 'image ID or name')
        .argument('<tag...>', 'tags')
        .description(what),
      `ferry image tag ${verb} my-image base debian-12`,
    ).action(
      withContext<[string, string[]]>(async (ctx, _o, ref, tags) => {
        const client = await ctx.client();
        const id = await resolveImageId(client, ref);
        for (const t of tags) await client.request(method, `/v2/images/${id}/tags/${encodeURIComponent(t)}`);
        printImage(ctx, await getImage(client, id));
      }),
    );
  }

  for (const [action, what] of [
    ['deactivate', 'Deactivate images (their data can no longer be downloaded).'],
    ['reactivate', 'Reactivate deactivated images.'],
    ['freeze', 'Freeze images: no change, sharing, replication or deletion (administrators).'],
    ['unfreeze', 'Unfreeze images (administrators).'],
  ] as const) {
    example(
      image.command(action).argument('<image...>', 'image IDs or names').description(what),
      `ferry image ${action} my-image`,
    ).action(
      withContext<[string[]]>(async (ctx, _o, refs) => {
        const client = await ctx.client();
        await forEachImage(ctx, client, refs, async (id) => {
          await client.request('POST', `/v2/images/${id}/actions/${action}`);
          ctx.out.note(`Image ${id}: ${action} done.`);
        });
      }),
    );
  }

  registerImageDataCommands(image);
  registerReplicateCommands(image);
}
