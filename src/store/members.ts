/**
 * Image members: the projects an image is shared with and their pending/accepted/rejected answer.
 * @module
 */
import type { Db } from './db.js';
import type { ImageMembersTable } from './schema.js';

export type MemberRow = ImageMembersTable;

export async function insertMember(db: Db, row: MemberRow): Promise<void> {
  await db.insertInto('image_members').values(row).execute();
}

export async function findMember(db: Db, imageId: string, memberId: string): Promise<MemberRow | undefined> {
  return db
    .selectFrom('image_members')
    .selectAll()
    .where('image_id', '=', imageId)
    .where('member_id', '=', memberId)
    .executeTakeFirst();
}

export async function listMembers(db: Db, imageId: string): Promise<MemberRow[]> {
  return db
    .selectFrom('image_members')
    .selectAll()
    .where('image_id', '=', imageId)
    .orderBy('created_at')
    .orderBy('member_id')
    .execute();
}

export async function countMembers(db: Db, imageId: string): Promise<number> {
  const row = await db
    .selectFrom('image_members')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('image_id', '=', imageId)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

export async function updateMemberStatus(
  db: Db,
  imageId: string,
  memberId: string,
  status: string,
  updatedAt: string,
  vaultId: string | null = null,
): Promise<void> {
  await db
    .updateTable('image_members')
    .set({ status, updated_at: updatedAt, vault_id: vaultId })
    .where('image_id', '=', imageId)
    .where('member_id', '=', memberId)
    .execute();
}

export async function deleteMember(db: Db, imageId: string, memberId: string): Promise<boolean> {
  const result = await db
    .deleteFrom('image_members')
    .where('image_id', '=', imageId)
    .where('member_id', '=', memberId)
    .executeTakeFirst();
  return Number(result.numDeletedRows) > 0;
}

/** Shares the image with each project, pending its answer; a project already a member is left as it is. */
export async function addPendingMembers(
  db: Db,
  imageId: string,
  memberIds: readonly string[],
  now: string,
): Promise<void> {
  if (memberIds.length === 0) return;
  await db
    .insertInto('image_members')
    .values(
      memberIds.map((member_id) => ({
        image_id: imageId,
        member_id,
        status: 'pending',
        created_at: now,
        updated_at: now,
      })),
    )
    .onConflict((oc) => oc.columns(['image_id', 'member_id']).doNothing())
    .execute();
}
