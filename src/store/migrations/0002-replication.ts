/**
 * Replication: jobs (both the source's record and the destination's work item), the grants a source issues
 * to a destination for one job, metered traffic between regions, and where a replicated image came from.
 * @module
 */
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('jobs')
    .addColumn('id', 'varchar(32)', (c) => c.primaryKey())
    .addColumn('job_type', 'varchar(64)', (c) => c.notNull())
    .addColumn('role', 'varchar(16)', (c) => c.notNull())
    .addColumn('status', 'varchar(16)', (c) => c.notNull())
    .addColumn('account_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('user_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('source_region', 'varchar(64)', (c) => c.notNull())
    .addColumn('source_image_id', 'varchar(36)', (c) => c.notNull())
    .addColumn('source_image_name', 'varchar(255)')
    .addColumn('dest_region', 'varchar(64)', (c) => c.notNull())
    .addColumn('dest_project_id', 'varchar(64)')
    .addColumn('dest_image_id', 'varchar(36)')
    .addColumn('image_name', 'varchar(255)', (c) => c.notNull())
    .addColumn('description', 'varchar(1024)', (c) => c.notNull().defaultTo(''))
    .addColumn('agency_name', 'varchar(255)')
    .addColumn('vault_id', 'varchar(255)')
    .addColumn('cmk_id', 'varchar(255)')
    .addColumn('manifest_digest', 'varchar(64)')
    .addColumn('bytes_total', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('bytes_transferred', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('bytes_skipped_present', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('bytes_skipped_zero', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('bytes_per_second', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('bandwidth_limit', 'bigint')
    .addColumn('current_task', 'varchar(128)', (c) => c.notNull().defaultTo(''))
    .addColumn('error_code', 'varchar(64)')
    .addColumn('fail_reason', 'varchar(1024)')
    .addColumn('grant_secret', 'varchar(128)')
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('max_attempts', 'integer', (c) => c.notNull().defaultTo(5))
    .addColumn('run_at', 'varchar(32)', (c) => c.notNull())
    .addColumn('locked_by', 'varchar(128)')
    .addColumn('lease_until', 'varchar(32)')
    .addColumn('cancel_requested', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('begin_time', 'varchar(32)', (c) => c.notNull())
    .addColumn('end_time', 'varchar(32)')
    .addColumn('updated_at', 'varchar(32)', (c) => c.notNull())
    .addCheckConstraint(
      'jobs_status_check',
      sql`status in ('INIT', 'RUNNING', 'SUCCESS', 'FAIL', 'CANCELLED')`,
    )
    .addCheckConstraint('jobs_role_check', sql`role in ('source', 'destination', 'local')`)
    .execute();
  await db.schema.createIndex('jobs_account').on('jobs').columns(['account_id', 'begin_time']).execute();
  await db.schema.createIndex('jobs_claim').on('jobs').columns(['role', 'status', 'run_at']).execute();
  await db.schema
    .createIndex('jobs_source_image')
    .on('jobs')
    .columns(['source_image_id', 'status'])
    .execute();

  await db.schema
    .createTable('grants')
    .addColumn('job_id', 'varchar(32)', (c) => c.primaryKey())
    .addColumn('secret_hash', 'varchar(64)', (c) => c.notNull().unique())
    .addColumn('image_id', 'varchar(36)', (c) => c.notNull())
    .addColumn('manifest_digest', 'varchar(64)', (c) => c.notNull())
    .addColumn('account_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('dest_region', 'varchar(64)', (c) => c.notNull())
    .addColumn('expires_at', 'varchar(32)', (c) => c.notNull())
    .addColumn('revoked_at', 'varchar(32)')
    .execute();

  await db.schema
    .createTable('transfer_usage')
    .addColumn('account_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('source_region', 'varchar(64)', (c) => c.notNull())
    .addColumn('dest_region', 'varchar(64)', (c) => c.notNull())
    .addColumn('day', 'varchar(10)', (c) => c.notNull())
    .addColumn('bytes', 'bigint', (c) => c.notNull().defaultTo(0))
    .addPrimaryKeyConstraint('transfer_usage_pk', ['account_id', 'source_region', 'dest_region', 'day'])
    .execute();

  await db.schema.alterTable('images').addColumn('source_region', 'varchar(64)').execute();
  await db.schema.alterTable('images').addColumn('source_image_id', 'varchar(36)').execute();
  await db.schema.alterTable('images').addColumn('replication_job_id', 'varchar(32)').execute();
}
