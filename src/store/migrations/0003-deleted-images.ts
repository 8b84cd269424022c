/**
 * The IDs of deleted images, kept so that no image ID is ever issued twice: a client may choose an image's ID
 * at create time, and re-creating a deleted image's ID would hand everyone who still refers to it (a boot
 * script, a consumer of a community image) somebody else's data (OpenStack security note OSSN-0075; Glance
 * keeps its deleted rows for the same reason).
 * @module
 */
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('deleted_images')
    .addColumn('id', 'varchar(36)', (c) => c.primaryKey())
    .addColumn('owner', 'varchar(64)', (c) => c.notNull())
    .addColumn('deleted_at', 'varchar(32)', (c) => c.notNull())
    .execute();
}
