/**
 * The project a job belongs to in this region (the source image's for a cross-region job's source row, the
 * copy's for an in-region copy): jobs are listed, shown and cancelled within the caller's project, as its
 * images are. Rows from before this migration have none and stay visible to their whole account.
 * @module
 */
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('jobs').addColumn('project_id', 'varchar(32)').execute();
}
