/**
 * Vaults and the backups in them (whole-server images' disks), one function per query.
 * @module
 */
import type { Db } from './db.js';
import type { BackupsTable, VaultsTable } from './schema.js';

export type VaultRow = VaultsTable;
export type BackupRow = BackupsTable;

export async function insertVault(db: Db, row: VaultRow): Promise<void> {
  await db.insertInto('vaults').values(row).execute();
}

export async function findVault(db: Db, id: string): Promise<VaultRow | undefined> {
  return db.selectFrom('vaults').selectAll().where('id', '=', id).executeTakeFirst();
}

/** A project's vaults, oldest first. */
export async function listVaults(db: Db, projectId: string): Promise<VaultRow[]> {
  return db
    .selectFrom('vaults')
    .selectAll()
    .where('project_id', '=', projectId)
    .orderBy('created_at')
    .orderBy('id')
    .execute();
}

/** Deletes the vault if it holds no backup; false if it holds one (or is gone). */
export async function deleteEmptyVault(db: Db, id: string): Promise<boolean> {
  return db.transaction().execute(async (tx) => {
    const backup = await tx.selectFrom('backups').select('id').where('vault_id', '=', id).executeTakeFirst();
    if (backup) return false;
    const deleted = await tx.deleteFrom('vaults').where('id', '=', id).executeTakeFirst();
    return deleted.numDeletedRows > 0n;
  });
}

/** Bytes the vault's backups take, those still arriving included (they have their place reserved). */
export async function vaultUsedBytes(db: Db, vaultId: string): Promise<number> {
  const row = await db
    .selectFrom('backups')
    .select((eb) => eb.fn.sum<number>('size').as('bytes'))
    .where('vault_id', '=', vaultId)
    .executeTakeFirst();
  return Number(row?.bytes ?? 0);
}

export async function insertBackups(db: Db, rows: readonly BackupRow[]): Promise<void> {
  if (rows.length > 0)
    await db
      .insertInto('backups')
      .values([...rows])
      .execute();
}

/** A whole-server image's disks, system disk first. */
export async function listBackupsOfImage(db: Db, imageId: string): Promise<BackupRow[]> {
  return db.selectFrom('backups').selectAll().where('image_id', '=', imageId).orderBy('disk_index').execute();
}

export async function listBackupsOfVault(db: Db, vaultId: string): Promise<BackupRow[]> {
  return db
    .selectFrom('backups')
    .selectAll()
    .where('vault_id', '=', vaultId)
    .orderBy('image_id')
    .orderBy('disk_index')
    .execute();
}

export async function findBackup(db: Db, id: string): Promise<BackupRow | undefined> {
  return db.selectFrom('backups').selectAll().where('id', '=', id).executeTakeFirst();
}

/** The image's backups that were arriving are complete. */
export async function markBackupsAvailable(db: Db, imageId: string): Promise<void> {
  await db
    .updateTable('backups')
    .set({ status: 'available' })
    .where('image_id', '=', imageId)
    .where('status', '=', 'creating')
    .execute();
}

/** Every manifest a backup references (garbage-collection roots), each once. */
export async function listBackupManifests(db: Db): Promise<string[]> {
  const rows = await db.selectFrom('backups').select('manifest_digest').distinct().execute();
  return rows.map((r) => r.manifest_digest);
}

/** Every complete backup with its manifest (what the scrub checks beside images). */
export async function listAvailableBackupManifests(
  db: Db,
): Promise<Array<{ id: string; manifestDigest: string }>> {
  const rows = await db
    .selectFrom('backups')
    .select(['id', 'manifest_digest'])
    .where('status', '=', 'available')
    .orderBy('id')
    .execute();
  return rows.map((r) => ({ id: r.id, manifestDigest: r.manifest_digest }));
}
