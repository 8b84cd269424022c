/**
 * Vaults (`/v1/vaults`: images/vaults.ts) and whole-server images (`POST /v1/cloudimages/wholeimages`, the
 * disks of one: images/whole-server.ts). A whole-server image is shown as any image (Glance's view) and its
 * disks as backups.
 * @module
 */
import type { FastifyInstance } from 'fastify';
import {
  createVault,
  deleteVault,
  listProjectVaults,
  listVaultBackups,
  showVault,
} from '../../images/vaults.js';
import type { VaultWithUse } from '../../images/vaults.js';
import { createWholeServerImage, listDisks } from '../../images/whole-server.js';
import type { BackupRow } from '../../store/vaults.js';
import type { RegionContext } from '../../region/context.js';
import { principalOf } from '../auth.js';
import { imageView } from '../image-view.js';
import { IdParams } from '../schemas/common.js';
import { BackupView, VaultCreateBody, VaultView, WholeServerBody } from '../schemas/vault.js';
import { Type } from 'typebox';

const TAGS = ['Vaults and whole-server images'];

function vaultView(region: string, vault: VaultWithUse): VaultView {
  return {
    id: vault.id,
    name: vault.name,
    region,
    project_id: vault.project_id,
    protection_type: vault.protection_type as VaultView['protection_type'],
    size: vault.capacity_bytes,
    used: vault.used_bytes,
    created_at: vault.created_at,
  };
}

export function backupView(backup: BackupRow): BackupView {
  return {
    id: backup.id,
    vault_id: backup.vault_id,
    image_id: backup.image_id,
    disk_index: backup.disk_index,
    role: backup.disk_index === 0 ? 'system' : 'data',
    status: backup.status,
    disk_format: backup.disk_format,
    size: backup.size,
    virtual_size: backup.virtual_size,
    checksum: backup.checksum,
    os_hash_algo: backup.os_hash_algo,
    os_hash_value: backup.os_hash_value,
    created_at: backup.created_at,
    file: `/v1/cloudimages/${backup.image_id}/disks/${backup.disk_index}/file`,
  };
}

export function registerVaultRoutes(app: FastifyInstance, ctx: RegionContext): void {
  app.post<{ Body: VaultCreateBody }>(
    '/v1/vaults',
    {
      schema: {
        summary: 'Create a vault (protection type backup or replication)',
        tags: TAGS,
        body: VaultCreateBody,
        response: { 201: VaultView },
      },
    },
    async (request, reply) => {
      const vault = await createVault(ctx, principalOf(request), request.body);
      return reply.code(201).send(vaultView(ctx.region, vault));
    },
  );

  app.get(
    '/v1/vaults',
    {
      schema: {
        summary: "Your project's vaults in this region",
        tags: TAGS,
        response: { 200: Type.Object({ vaults: Type.Array(VaultView) }) },
      },
    },
    async (request) => ({
      vaults: (await listProjectVaults(ctx, principalOf(request))).map((v) => vaultView(ctx.region, v)),
    }),
  );

  app.get<{ Params: { id: string } }>(
    '/v1/vaults/:id',
    { schema: { summary: 'Show a vault', tags: TAGS, params: IdParams, response: { 200: VaultView } } },
    async (request) => vaultView(ctx.region, await showVault(ctx, principalOf(request), request.params.id)),
  );

  app.delete<{ Params: { id: string } }>(
    '/v1/vaults/:id',
    { schema: { summary: 'Delete an empty vault', tags: TAGS, params: IdParams } },
    async (request, reply) => {
      await deleteVault(ctx, principalOf(request), request.params.id);
      return reply.code(204).send();
    },
  );

  app.get<{ Params: { id: string } }>(
    '/v1/vaults/:id/backups',
    {
      schema: {
        summary: "The backups in a vault (whole-server images' disks)",
        tags: TAGS,
        params: IdParams,
        response: { 200: Type.Object({ backups: Type.Array(BackupView) }) },
      },
    },
    async (request) => ({
      backups: (await listVaultBackups(ctx, principalOf(request), request.params.id)).map(backupView),
    }),
  );

  app.post<{ Body: WholeServerBody }>(
    '/v1/cloudimages/wholeimages',
    {
      schema: {
        summary: 'Create a whole-server image from disk images (system disk first) into a backup vault',
        tags: TAGS,
        body: WholeServerBody,
      },
    },
    async (request, reply) => {
      const { image } = await createWholeServerImage(ctx, principalOf(request), request.body);
      return reply.code(201).header('location', `/v2/images/${image.id}`).send(imageView(image));
    },
  );

  app.get<{ Params: { id: string } }>(
    '/v1/cloudimages/:id/disks',
    {
      schema: {
        summary: "A whole-server image's disks (backups), system disk first",
        tags: TAGS,
        params: IdParams,
        response: { 200: Type.Object({ disks: Type.Array(BackupView) }) },
      },
    },
    async (request) => ({
      disks: (await listDisks(ctx, principalOf(request), request.params.id)).map(backupView),
    }),
  );
}
