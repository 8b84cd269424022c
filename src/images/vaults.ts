/**
 * Vaults (domain/vault.ts): create, list, show and delete a project's vaults, and list the backups in one. A
 * vault another project owns is not found, never forbidden, as with images.
 * @module
 */
import { FerryError } from '../domain/errors.js';
import { newUuid } from '../domain/ids.js';
import type { ProtectionType } from '../domain/vault.js';
import type { Principal } from '../identity/tokens.js';
import { timestamp } from '../store/clock.js';
import {
  deleteEmptyVault,
  findVault,
  insertVault,
  listBackupsOfVault,
  listVaults,
  vaultUsedBytes,
  type BackupRow,
  type VaultRow,
} from '../store/vaults.js';
import type { RegionContext } from '../region/context.js';

const GiB = 1024 ** 3;

/** A vault with what its backups take. */
export interface VaultWithUse extends VaultRow {
  used_bytes: number;
}

export interface VaultCreation {
  name: string;
  protection_type: ProtectionType;
  size_gib: number;
}

function vaultNotFound(id: string): FerryError {
  return new FerryError('VAULT_NOT_FOUND', `No vault with ID ${id} was found in this region.`);
}

/** The vault if it is the caller's project's (or the caller is an administrator). */
export async function loadVault(ctx: RegionContext, principal: Principal, id: string): Promise<VaultRow> {
  const vault = await findVault(ctx.db, id);
  if (!vault || (!principal.isAdmin && vault.project_id !== principal.projectId)) throw vaultNotFound(id);
  return vault;
}

async function withUse(ctx: RegionContext, vault: VaultRow): Promise<VaultWithUse> {
  return { ...vault, used_bytes: await vaultUsedBytes(ctx.db, vault.id) };
}

export async function createVault(
  ctx: RegionContext,
  principal: Principal,
  fields: VaultCreation,
): Promise<VaultWithUse> {
  const vault: VaultRow = {
    id: newUuid(),
    account_id: principal.accountId,
    project_id: principal.projectId,
    name: fields.name,
    protection_type: fields.protection_type,
    capacity_bytes: fields.size_gib * GiB,
    created_at: timestamp(ctx.clock),
  };
  await insertVault(ctx.db, vault);
  return { ...vault, used_bytes: 0 };
}

export async function listProjectVaults(ctx: RegionContext, principal: Principal): Promise<VaultWithUse[]> {
  return Promise.all((await listVaults(ctx.db, principal.projectId)).map((v) => withUse(ctx, v)));
}

export async function showVault(ctx: RegionContext, principal: Principal, id: string): Promise<VaultWithUse> {
  return withUse(ctx, await loadVault(ctx, principal, id));
}

export async function listVaultBackups(
  ctx: RegionContext,
  principal: Principal,
  id: string,
): Promise<BackupRow[]> {
  return listBackupsOfVault(ctx.db, (await loadVault(ctx, principal, id)).id);
}

/** Deletes an empty vault; a vault that holds backups is refused (delete their whole-server images first). */
export async function deleteVault(ctx: RegionContext, principal: Principal, id: string): Promise<void> {
  const vault = await loadVault(ctx, principal, id);
  if (!(await deleteEmptyVault(ctx.db, vault.id))) {
    throw new FerryError(
      'VAULT_NOT_EMPTY',
      `Vault ${vault.id} holds backups: delete the whole-server images they belong to first.`,
    );
  }
}
