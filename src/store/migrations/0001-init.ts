/**
 * First schema: identity (accounts, users, projects, tokens, agencies) and images (tags, properties,
 * members). Portable DDL only: it runs unchanged on SQLite and PostgreSQL.
 * @module
 */
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('accounts')
    .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('name', 'varchar(255)', (c) => c.notNull().unique())
    .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('users')
    .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('account_id', 'varchar(64)', (c) => c.notNull().references('accounts.id').onDelete('cascade'))
    .addColumn('name', 'varchar(255)', (c) => c.notNull())
    .addColumn('is_admin', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
    .addUniqueConstraint('users_account_name', ['account_id', 'name'])
    .execute();

  await db.schema
    .createTable('projects')
    .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('account_id', 'varchar(64)', (c) => c.notNull().references('accounts.id').onDelete('cascade'))
    .addColumn('region', 'varchar(64)', (c) => c.notNull())
    .addColumn('name', 'varchar(255)', (c) => c.notNull())
    .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
    .addUniqueConstraint('projects_account_region_name', ['account_id', 'region', 'name'])
    .execute();

  await db.schema
    .createTable('tokens')
    .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('user_id', 'varchar(64)', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('project_id', 'varchar(64)', (c) => c.notNull().references('projects.id').onDelete('cascade'))
    .addColumn('secret_hash', 'varchar(64)', (c) => c.notNull().unique())
    .addColumn('description', 'varchar(255)', (c) => c.notNull().defaultTo(''))
    .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
    .addColumn('expires_at', 'varchar(32)', (c) => c.notNull())
    .addColumn('revoked_at', 'varchar(32)')
    .execute();

  await db.schema
    .createTable('agencies')
    .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('account_id', 'varchar(64)', (c) => c.notNull().references('accounts.id').onDelete('cascade'))
    .addColumn('name', 'varchar(255)', (c) => c.notNull())
    .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
    .addUniqueConstraint('agencies_account_name', ['account_id', 'name'])
    .execute();

  await db.schema
    .createTable('agency_policies')
    .addColumn('agency_id', 'varchar(64)', (c) => c.notNull().references('agencies.id').onDelete('cascade'))
    .addColumn('region', 'varchar(64)', (c) => c.notNull())
    .addColumn('policy', 'varchar(128)', (c) => c.notNull())
    .addPrimaryKeyConstraint('agency_policies_pk', ['agency_id', 'region', 'policy'])
    .execute();

  await db.schema
    .createTable('images')
    .addColumn('id', 'varchar(36)', (c) => c.primaryKey())
    .addColumn('owner', 'varchar(64)', (c) => c.notNull().references('projects.id'))
    .addColumn('name', 'varchar(255)')
    .addColumn('status', 'varchar(32)', (c) => c.notNull())
    .addColumn('visibility', 'varchar(16)', (c) => c.notNull())
    .addColumn('disk_format', 'varchar(16)')
    .addColumn('container_format', 'varchar(16)')
    .addColumn('size', 'bigint')
    .addColumn('virtual_size', 'bigint')
    .addColumn('checksum', 'varchar(32)')
    .addColumn('os_hash_algo', 'varchar(64)')
    .addColumn('os_hash_value', 'varchar(128)')
    .addColumn('manifest_digest', 'varchar(64)')
    .addColumn('min_disk', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('min_ram', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('protected', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('os_hidden', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('image_type', 'varchar(32)', (c) => c.notNull())
    .addColumn('cmk_id', 'varchar(255)')
    .addColumn('frozen', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
    .addColumn('updated_at', 'varchar(32)', (c) => c.notNull())
    .addCheckConstraint(
      'images_status_check',
      sql`status in ('queued', 'saving', 'active', 'killed', 'deleted', 'deactivated')`,
    )
    .addCheckConstraint(
      'images_visibility_check',
      sql`visibility in ('private', 'shared', 'public', 'community')`,
    )
    .execute();
  await db.schema.createIndex('images_owner').on('images').columns(['owner', 'created_at']).execute();
  await db.schema.createIndex('images_manifest').on('images').column('manifest_digest').execute();

  await db.schema
    .createTable('image_tags')
    .addColumn('image_id', 'varchar(36)', (c) => c.notNull().references('images.id').onDelete('cascade'))
    .addColumn('tag', 'varchar(255)', (c) => c.notNull())
    .addPrimaryKeyConstraint('image_tags_pk', ['image_id', 'tag'])
    .execute();

  await db.schema
    .createTable('image_properties')
    .addColumn('image_id', 'varchar(36)', (c) => c.notNull().references('images.id').onDelete('cascade'))
    .addColumn('name', 'varchar(255)', (c) => c.notNull())
    .addColumn('value', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('image_properties_pk', ['image_id', 'name'])
    .execute();

  await db.schema
    .createTable('image_members')
    .addColumn('image_id', 'varchar(36)', (c) => c.notNull().references('images.id').onDelete('cascade'))
    .addColumn('member_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('status', 'varchar(16)', (c) => c.notNull())
    .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
    .addColumn('updated_at', 'varchar(32)', (c) => c.notNull())
    .addPrimaryKeyConstraint('image_members_pk', ['image_id', 'member_id'])
    .addCheckConstraint('image_members_status_check', sql`status in ('pending', 'accepted', 'rejected')`)
    .execute();
  await db.schema.createIndex('image_members_member').on('image_members').column('member_id').execute();
}
