/**
 * Whole-server images (domain/vault.ts): made from disk images the caller uploaded in this region, the first
 * being the system disk, as IMS makes a full-ECS image from a server's disks. Each disk becomes a backup in a
 * vault of protection type `backup`; a backup references the disk image's manifest, so no byte is copied and
 * the disk images may be deleted afterwards. The image itself has no data of its own: its disks are read one
 * by one (`openDiskRead`), and it cannot be downloaded or copied within the region (as IMS refuses).
 * @module
 */
import { FerryError } from '../domain/errors.js';
import { newUuid, type Digest } from '../domain/ids.js';
import { checkVaultFor, checkVaultSpace, MAX_WHOLE_SERVER_DISKS } from '../domain/vault.js';
import type { Principal } from '../identity/tokens.js';
import { timestamp } from '../store/clock.js';
import { deleteImage, insertImage, newImageRow, type ImageRecord } from '../store/images.js';
import { insertBackups, listBackupsOfImage, vaultUsedBytes, type BackupRow } from '../store/vaults.js';
import type { RegionContext } from '../region/context.js';
import { loadOwnedImage, loadVisibleImage } from './access.js';
import { openDataRead, type DataRead } from './download.js';
import { assertNewImageFits } from './quotas.js';
import { loadVault } from './vaults.js';

export interface WholeServerCreation {
  name: string;
  description?: string;
  vault_id: string;
  /** Disk images of the caller's project: the system disk first, then the data disks. */
  disks: string[];
  min_ram?: number;
  tags?: string[];
}

function diskRefused(imageId: string, why: string): FerryError {
  return new FerryError(
    'WHOLE_SERVER_DISK_INVALID',
    `Image ${imageId} cannot be a disk of a whole-server image: ${why}.`,
  );
}

/** A disk image the caller owns whose data is complete and which is a disk (not an ISO, not whole-server). */
async function loadDisk(ctx: RegionContext, principal: Principal, id: string): Promise<ImageRecord> {
  const image = await loadOwnedImage(ctx, principal, id);
  if (image.image_type === 'full-server') throw diskRefused(id, 'it is a whole-server image');
  if (image.disk_format === 'iso' || image.image_type === 'iso') throw diskRefused(id, 'it is an ISO image');
  if (image.cmk_id !== null) throw diskRefused(id, 'it is encrypted');
  if (image.status !== 'active' || image.manifest_digest === null || image.size === null)
    throw diskRefused(id, `its status is ${image.status}, not active`);
  return image;
}

export async function createWholeServerImage(
  ctx: RegionContext,
  principal: Principal,
  fields: WholeServerCreation,
): Promise<{ image: ImageRecord; backups: BackupRow[] }> {
  if (fields.disks.length === 0 || fields.disks.length > MAX_WHOLE_SERVER_DISKS)
    throw new FerryError('VALIDATION_FAILED', `disks: give 1 to ${MAX_WHOLE_SERVER_DISKS} disk images.`);
  if (new Set(fields.disks).size !== fields.disks.length)
    throw new FerryError('VALIDATION_FAILED', 'disks: an image is named twice.');
  const vault = await loadVault(ctx, principal, fields.vault_id);
  checkVaultFor('whole-server image', vault);
  const disks: ImageRecord[] = [];
  for (const id of fields.disks) disks.push(await loadDisk(ctx, principal, id));
  const total = disks.reduce((sum, disk) => sum + disk.size!, 0);
  checkVaultSpace(vault, await vaultUsedBytes(ctx.db, vault.id), total);
  const tags = fields.tags ?? [];
  const properties = {
    __whole_image: 'true',
    ...(fields.description ? { description: fields.description } : {}),
  };
  await assertNewImageFits(ctx, principal.projectId, properties, tags);

  const now = timestamp(ctx.clock);
  const system = disks[0]!;
  const virtualSizes = disks.map((d) => d.virtual_size);
  const image = await insertImage(
    ctx.db,
    newImageRow(
      {
        id: newUuid(),
        owner: principal.projectId,
        name: fields.name,
        status: 'active',
        visibility: 'private',
        image_type: 'full-server',
        disk_format: system.disk_format,
        container_format: 'bare',
        size: total,
        virtual_size: virtualSizes.every((v) => v !== null)
          ? virtualSizes.reduce((sum, v) => sum + v!, 0)
          : null,
        min_disk: system.min_disk,
        min_ram: fields.min_ram ?? system.min_ram,
      },
      now,
    ),
    tags,
    properties,
  );
  const backups = disks.map((disk, index): BackupRow => ({
    id: newUuid(),
    vault_id: vault.id,
    image_id: image.id,
    disk_index: index,
    status: 'available',
    disk_format: disk.disk_format!,
    size: disk.size!,
    virtual_size: disk.virtual_size,
    checksum: disk.checksum,
    os_hash_algo: disk.os_hash_algo,
    os_hash_value: disk.os_hash_value,
    manifest_digest: disk.manifest_digest!,
    created_at: now,
  }));
  try {
    await insertBackups(ctx.db, backups);
  } catch (error) {
    await deleteImage(ctx.db, image.id, now);
    throw error;
  }
  return { image, backups };
}

/** The disks of a whole-server image the caller may see, system disk first. */
export async function listDisks(
  ctx: RegionContext,
  principal: Principal,
  imageId: string,
): Promise<BackupRow[]> {
  const image = await loadVisibleImage(ctx, principal, imageId);
  if (image.image_type !== 'full-server') {
    throw new FerryError(
      'VALIDATION_FAILED',
      `Image ${image.id} is not a whole-server image: it has no disks.`,
    );
  }
  return listBackupsOfImage(ctx.db, image.id);
}

/** One disk's data, whole or a range (as an image download); only once the disk's data is complete. */
export async function openDiskRead(
  ctx: RegionContext,
  principal: Principal,
  imageId: string,
  diskIndex: number,
  rangeOf: Parameters<typeof openDataRead>[2],
): Promise<DataRead & { backup: BackupRow }> {
  const image = await loadVisibleImage(ctx, principal, imageId);
  if (image.status === 'deactivated' && !principal.isAdmin) {
    throw new FerryError('FORBIDDEN', `Image ${image.id} is deactivated: its disks cannot be downloaded.`);
  }
  const disk = (await listDisks(ctx, principal, image.id)).find((b) => b.disk_index === diskIndex);
  if (!disk || disk.status !== 'available') {
    throw new FerryError(
      'BACKUP_NOT_FOUND',
      `Image ${imageId} has no disk ${diskIndex} with its data complete.`,
    );
  }
  return { ...(await openDataRead(ctx, disk.manifest_digest as Digest, rangeOf)), backup: disk };
}
