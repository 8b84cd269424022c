/**
 * The projects of the destination region a replication shares its replica with once active (`share_with`):
 * a JSON array of project IDs on both of the job's rows; null for none.
 * @module
 */
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('jobs').addColumn('share_with', 'text').execute();
}
