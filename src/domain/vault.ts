/**
 * Vaults and whole-server images, the rules without I/O.
 *
 * Glossary: a *vault* is a project's store of server backups in one region (CBR's server backup vault), with a
 * capacity; its *protection type* says what it is for: `backup` (whole-server images are made into it) or
 * `replication` (replicated whole-server images arrive in it, as CBR requires). A *backup* is one disk of a
 * whole-server image, kept in a vault: disk 0 is the system disk, 1.. the data disks. A *whole-server image*
 * (image_type `full-server`, IMS's full-ECS image) is one image that references its backups; its data is theirs.
 * @module
 */
import { FerryError } from './errors.js';

export const PROTECTION_TYPES = ['backup', 'replication'] as const;
export type ProtectionType = (typeof PROTECTION_TYPES)[number];

/** A vault's capacity bounds, in GiB (CBR sells 10 GiB to 10 TiB; Ferry allows 1 GiB for small tests). */
export const MIN_VAULT_GIB = 1;
export const MAX_VAULT_GIB = 10 * 1024;

/** Disks of one whole-server image: a system disk and up to 23 data disks (an ECS's 24 disks). */
export const MAX_WHOLE_SERVER_DISKS = 24;

/** Projects a whole-server image may be shared with (IMS: 10, where a disk image has 128). */
export const MAX_WHOLE_SERVER_MEMBERS = 10;

/** The policy an agency needs in the destination region to replicate a whole-server image. */
export const CROSS_COPY_CBR_POLICY = 'CrossCopyAgencyCBRPolicy';

/** Refuses a vault of the wrong protection type for `use`. */
export function checkVaultFor(
  use: 'whole-server image' | 'replication',
  vault: { id: string; protection_type: string },
): void {
  if (use === 'replication' && vault.protection_type !== 'replication') {
    throw new FerryError(
      'REPLICATION_VAULT_TYPE',
      `Vault ${vault.id} has protection type ${vault.protection_type}: a replicated whole-server image needs a vault of protection type replication.`,
    );
  }
  if (use === 'whole-server image' && vault.protection_type !== 'backup') {
    throw new FerryError(
      'VAULT_TYPE',
      `Vault ${vault.id} has protection type ${vault.protection_type}: whole-server images are made into a vault of protection type backup.`,
    );
  }
}

/** Refuses backups that would not fit in the vault's capacity (those still arriving count). */
export function checkVaultSpace(
  vault: { id: string; capacity_bytes: number },
  usedBytes: number,
  addedBytes: number,
): void {
  if (usedBytes + addedBytes > vault.capacity_bytes) {
    throw new FerryError(
      'VAULT_FULL',
      `Vault ${vault.id} has ${Math.max(0, vault.capacity_bytes - usedBytes)} bytes free; the backups need ${addedBytes}. Use a larger vault.`,
    );
  }
}
