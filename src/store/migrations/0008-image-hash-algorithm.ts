/**
 * `images.os_hash_algo` becomes the record of which hash `os_hash_value` is (the deployment setting
 * `images.hashingAlgorithm`, or a replica's source's), where the API used to report a constant sha512. The
 * column is as old as the table, and uploads and replicas have always filled it with sha512; this makes sure
 * every row with a hash says so, since the API now reports the column as it is.
 * @module
 */
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`update images set os_hash_algo = 'sha512' where os_hash_value is not null and os_hash_algo is null`.execute(
    db,
  );
}
