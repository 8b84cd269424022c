/**
 * Indexes for the image list's branches (store/image-list.ts): the viewer's own images and those of a
 * visibility (public, community, shared), each in the default sort order (created_at, then id) and by name
 * (as the list sorts it: null as ''); a project's memberships by status; names and tags for their filters.
 * `images_owner_sort` and `image_members_member_status` replace `images_owner` (owner, created_at) and
 * `image_members_member` (member_id), their prefixes: with id in the index, a page in the default order is
 * read straight off the index, ties included, with no sort of the owner's rows.
 * @module
 */
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createIndex('images_owner_sort')
    .on('images')
    .columns(['owner', 'created_at', 'id'])
    .execute();
  await db.schema.dropIndex('images_owner').execute();
  await db.schema
    .createIndex('images_visibility_sort')
    .on('images')
    .columns(['visibility', 'created_at', 'id'])
    .execute();
  // The expression must be the one the list sorts by (image-list.ts sortExpression), or no index serves it.
  await db.schema
    .createIndex('images_owner_name')
    .on('images')
    .expression(sql`owner, coalesce(name, ''), id`)
    .execute();
  await db.schema
    .createIndex('images_visibility_name')
    .on('images')
    .expression(sql`visibility, coalesce(name, ''), id`)
    .execute();
  await db.schema.createIndex('images_name').on('images').column('name').execute();
  await db.schema
    .createIndex('image_members_member_status')
    .on('image_members')
    .columns(['member_id', 'status', 'image_id'])
    .execute();
  await db.schema.dropIndex('image_members_member').execute();
  await db.schema.createIndex('image_tags_tag').on('image_tags').columns(['tag', 'image_id']).execute();
}
