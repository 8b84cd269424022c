/**
 * Vaults and whole-server images. A vault is a project's store of server backups in one region, of protection
 * type `backup` (where whole-server images are made) or `replication` (where replicated ones arrive), with a
 * capacity. A backup is one disk of a whole-server image: its data is a manifest like an image's, so its chunks
 * are shared and deduplicated like any image's. A whole-server image's job carries its disks (`jobs.disks`, a
 * JSON array; null for a one-disk image) and its grant the manifests a destination may read
 * (`grants.disk_manifests`). A member accepting a shared whole-server image names a vault of its own
 * (`image_members.vault_id`). Vault storage is sampled beside image storage (`storage_usage.vault_bytes`).
 * @module
 */
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('vaults')
    .addColumn('id', 'varchar(36)', (c) => c.primaryKey())
    .addColumn('account_id', 'varchar(32)', (c) => c.notNull())
    .addColumn('project_id', 'varchar(32)', (c) => c.notNull())
    .addColumn('name', 'varchar(64)', (c) => c.notNull())
    .addColumn('protection_type', 'varchar(16)', (c) => c.notNull())
    .addColumn('capacity_bytes', 'bigint', (c) => c.notNull())
    .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('vaults_project').on('vaults').column('project_id').execute();
  await db.schema
    .createTable('backups')
    .addColumn('id', 'varchar(36)', (c) => c.primaryKey())
    .addColumn('vault_id', 'varchar(36)', (c) => c.notNull())
    /** The whole-server image the backup is a disk of. */
    .addColumn('image_id', 'varchar(64)', (c) => c.notNull())
    /** 0 = the system disk, 1.. = data disks, in order. */
    .addColumn('disk_index', 'integer', (c) => c.notNull())
    /** available, or creating while a replication brings its data. */
    .addColumn('status', 'varchar(16)', (c) => c.notNull())
    .addColumn('disk_format', 'varchar(16)', (c) => c.notNull())
    .addColumn('size', 'bigint', (c) => c.notNull())
    .addColumn('virtual_size', 'bigint')
    .addColumn('checksum', 'varchar(32)')
    .addColumn('os_hash_algo', 'varchar(16)')
    .addColumn('os_hash_value', 'varchar(128)')
    .addColumn('manifest_digest', 'varchar(64)', (c) => c.notNull())
    .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('backups_vault').on('backups').column('vault_id').execute();
  await db.schema
    .createIndex('backups_image')
    .on('backups')
    .columns(['image_id', 'disk_index'])
    .unique()
    .execute();
  await db.schema.createIndex('backups_manifest').on('backups').column('manifest_digest').execute();
  await db.schema.alterTable('jobs').addColumn('disks', 'text').execute();
  await db.schema.alterTable('grants').addColumn('disk_manifests', 'text').execute();
  await db.schema.alterTable('image_members').addColumn('vault_id', 'varchar(36)').execute();
  await db.schema
    .alterTable('storage_usage')
    .addColumn('vault_bytes', 'bigint', (c) => c.notNull().defaultTo(0))
    .execute();
}
