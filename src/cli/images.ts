/**
 * Images as the CLI reads them: the Glance view's type, lookup by ID or by name (as the OpenStack CLI
 * allows), listing across pages, and guessing a file's disk format from its first bytes.
 * @module
 */
import { open } from 'node:fs/promises';
import type { FerryClient, QueryValue } from './client.js';
import type { CliContext } from './context.js';
import { ApiError, UsageError } from './errors.js';
import { formatBytes } from './units.js';
import type { ImageView } from '../api/schemas/image.js';

/** An image as `GET /v2/images/{id}` shows it (api/schemas/image.ts). */
export type { ImageView };

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Fields the API adds for links, left out of the Field/Value table. */
const LINK_FIELDS = new Set(['self', 'file', 'schema']);

export function getImage(client: FerryClient, id: string): Promise<ImageView> {
  return client.request<ImageView>('GET', `/v2/images/${encodeURIComponent(id)}`);
}

/** Every image matching `query`, following the API's `next` links until `max` images (default: all). */
export async function listImages(
  client: FerryClient,
  query: Record<string, QueryValue>,
  max = Infinity,
): Promise<ImageView[]> {
  const images: ImageView[] = [];
  let path: string | undefined = '/v2/images';
  let params: Record<string, QueryValue> | undefined = {
    ...query,
    limit: Math.min(max, 1000),
  };
  while (path !== undefined && images.length < max) {
    const page: { images: ImageView[]; next?: string } = await client.request('GET', path, { query: params });
    images.push(...page.images);
    path = page.next;
    params = undefined; // The next link carries the query.
  }
  return images.slice(0, max);
}

/**
 * The ID of the image `ref` names: an ID as is, else the one visible image with that name. Several images
 * with the name is a usage error (give the ID); none is the API's IMAGE_NOT_FOUND.
 */
export async function resolveImageId(client: FerryClient, ref: string): Promise<string> {
  if (UUID.test(ref)) return ref.toLowerCase();
  const matches = await listImages(client, { name: ref });
  if (matches.length === 1) return matches[0]!.id;
  if (matches.length > 1) {
    throw new UsageError(
      `${matches.length} images are named ${ref} (${matches.map((m) => m.id).join(', ')}): give the ID`,
    );
  }
  throw new ApiError(404, { code: 'IMAGE_NOT_FOUND', message: `No image with ID or name ${ref} was found.` });
}

/** A status cell: `saving (replicating 41%)` while an image is being replicated in. */
export function statusText(image: ImageView): string {
  const r = image.replication;
  if (r?.replicating) {
    const percent = r.process_percent === undefined ? '' : ` ${Math.floor(r.process_percent * 100)}%`;
    return `${image.status} (replicating${percent})`;
  }
  return image.status;
}

/**
 * The disk format of a file from its magic bytes: qcow2, vmdk (sparse or a descriptor), vhdx, vhd (the
 * footer copy at the start, or the footer at the end of a fixed VHD), iso (ISO 9660 at 32 KiB), else raw.
 */
export async function detectDiskFormat(file: string): Promise<string> {
  const handle = await open(file, 'r');
  try {
    const { size } = await handle.stat();
    const head = Buffer.alloc(Math.min(size, 40 * 1024));
    await handle.read(head, 0, head.length, 0);
    const tail = Buffer.alloc(Math.min(size, 512));
    await handle.read(tail, 0, tail.length, Math.max(0, size - tail.length));
    const at = (offset: number, text: string) =>
      head.subarray(offset, offset + text.length).toString('latin1') === text;
    if (at(0, 'QFI\xfb')) return 'qcow2';
    if (at(0, 'KDMV') || at(0, '# Disk DescriptorFile')) return 'vmdk';
    if (at(0, 'vhdxfile')) return 'vhdx';
    if (at(0, 'conectix') || tail.subarray(0, 8).toString('latin1') === 'conectix') return 'vhd';
    if (at(32769, 'CD001')) return 'iso';
    return 'raw';
  } finally {
    await handle.close();
  }
}

/** Prints one image: a Field/Value table (sizes also in human units), its JSON, or its ID. */
export function printImage(ctx: CliContext, image: ImageView): void {
  const fields = Object.keys(image).filter((f) => !LINK_FIELDS.has(f));
  const human: Record<string, unknown> = {
    ...image,
    size: image.size === null ? null : `${image.size} (${formatBytes(image.size)})`,
    virtual_size:
      image.virtual_size === null ? null : `${image.virtual_size} (${formatBytes(image.virtual_size)})`,
  };
  ctx.out.emit({
    json: image,
    ids: [image.id],
    human: () => {
      const width = Math.max(...fields.map((f) => f.length));
      return fields
        .map((f) => {
          const value = human[f];
          const text =
            value === null || value === undefined
              ? ''
              : typeof value === 'object'
                ? JSON.stringify(value)
                : String(value);
          return `${f.padEnd(width)}  ${text}`.trimEnd();
        })
        .join('\n');
    },
  });
}
