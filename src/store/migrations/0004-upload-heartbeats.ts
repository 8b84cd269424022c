/**
 * When each upload in progress last showed it is alive, so that an upload whose process died (kill -9, a
 * crash, a host lost) does not leave its image `saving` for ever: see region/abandoned-uploads.ts.
 * @module
 */
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('upload_heartbeats')
    .addColumn('image_id', 'varchar(36)', (c) => c.primaryKey().references('images.id').onDelete('cascade'))
    .addColumn('alive_at', 'varchar(32)', (c) => c.notNull())
    .execute();
}
