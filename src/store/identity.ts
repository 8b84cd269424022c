/**
 * Identity rows: accounts, users, per-region projects, API tokens and agencies, one function per query.
 * Ids are chosen by the caller, so the same account can be provisioned into every region's database with the
 * same ids (identity is global; each region keeps its own copy).
 * @module
 */
import type { Db } from './db.js';
import type { Clock } from './clock.js';
import { timestamp } from './clock.js';
import type { AccountsTable, AgenciesTable, ProjectsTable, TokensTable, UsersTable } from './schema.js';

export type Account = AccountsTable;
export type User = UsersTable;
export type Project = ProjectsTable;
export type Token = TokensTable;
export type Agency = AgenciesTable & { policies: Array<{ region: string; policy: string }> };

export async function insertAccount(
  db: Db,
  clock: Clock,
  row: { id: string; name: string },
): Promise<Account> {
  const account = { ...row, created_at: timestamp(clock) };
  await db.insertInto('accounts').values(account).execute();
  return account;
}

export async function findAccount(db: Db, id: string): Promise<Account | undefined> {
  return db.selectFrom('accounts').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function findAccountByName(db: Db, name: string): Promise<Account | undefined> {
  return db.selectFrom('accounts').selectAll().where('name', '=', name).executeTakeFirst();
}

export async function listAccounts(db: Db): Promise<Account[]> {
  return db.selectFrom('accounts').selectAll().orderBy('name').execute();
}

export async function insertUser(
  db: Db,
  clock: Clock,
  row: { id: string; account_id: string; name: string; is_admin: boolean },
): Promise<User> {
  const user = {
    ...row,
    is_admin: row.is_admin ? 1 : 0,
    created_at: timestamp(clock),
    enabled: 1,
    enabled_changed_at: null,
  };
  await db.insertInto('users').values(user).execute();
  return user;
}

export async function findUser(db: Db, id: string): Promise<User | undefined> {
  return db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function findUserByName(db: Db, accountId: string, name: string): Promise<User | undefined> {
  return db
    .selectFrom('users')
    .selectAll()
    .where('account_id', '=', accountId)
    .where('name', '=', name)
    .executeTakeFirst();
}

export async function listUsers(db: Db, accountId: string): Promise<User[]> {
  return db.selectFrom('users').selectAll().where('account_id', '=', accountId).orderBy('name').execute();
}

export async function countAdmins(db: Db): Promise<number> {
  const row = await db
    .selectFrom('users')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('is_admin', '=', 1)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

export async function insertProject(
  db: Db,
  clock: Clock,
  row: { id: string; account_id: string; region: string; name: string },
): Promise<Project> {
  const project = { ...row, created_at: timestamp(clock) };
  await db.insertInto('projects').values(project).execute();
  return project;
}

export async function findProject(db: Db, id: string): Promise<Project | undefined> {
  return db.selectFrom('projects').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function findProjectByName(
  db: Db,
  accountId: string,
  region: string,
  name: string,
): Promise<Project | undefined> {
  return db
    .selectFrom('projects')
    .selectAll()
    .where('account_id', '=', accountId)
    .where('region', '=', region)
    .where('name', '=', name)
    .executeTakeFirst();
}

export async function listProjects(db: Db, accountId: string): Promise<Project[]> {
  return db
    .selectFrom('projects')
    .selectAll()
    .where('account_id', '=', accountId)
    .orderBy('region')
    .orderBy('name')
    .execute();
}

export async function insertToken(db: Db, row: Token): Promise<void> {
  await db.insertInto('tokens').values(row).execute();
}

/** The token with this secret hash, whatever its state (the caller checks expiry and revocation). */
export async function findTokenByHash(db: Db, secretHash: string): Promise<Token | undefined> {
  return db.selectFrom('tokens').selectAll().where('secret_hash', '=', secretHash).executeTakeFirst();
}

export async function listTokens(db: Db, userId: string): Promise<Token[]> {
  return db.selectFrom('tokens').selectAll().where('user_id', '=', userId).orderBy('created_at').execute();
}

/**
 * Revokes the user's token; resolves its secret's hash (to revoke the same secret in other regions), or
 * undefined if no such token belongs to the user. Idempotent: a revoked token is found again.
 */
export async function revokeToken(
  db: Db,
  clock: Clock,
  userId: string,
  tokenId: string,
): Promise<string | undefined> {
  const token = await db
    .selectFrom('tokens')
    .select(['id', 'revoked_at', 'secret_hash'])
    .where('id', '=', tokenId)
    .where('user_id', '=', userId)
    .executeTakeFirst();
  if (!token) return undefined;
  if (token.revoked_at === null) {
    await db
      .updateTable('tokens')
      .set({ revoked_at: timestamp(clock) })
      .where('id', '=', tokenId)
      .execute();
  }
  await revokeDescendants(db, clock, userId, [token.secret_hash]);
  return token.secret_hash;
}

/**
 * Revokes the tokens made with the token of `secretHash`, the tokens made with those, and so on. Every
 * region keeps the parent of its copies, so revoking the first token in each region reaches them all there.
 */
async function revokeDescendants(
  db: Db,
  clock: Clock,
  userId: string,
  secretHashes: string[],
): Promise<void> {
  for (let parents = secretHashes; parents.length > 0;) {
    const children = await db
      .selectFrom('tokens')
      .select('secret_hash')
      .where('user_id', '=', userId)
      .where('parent_hash', 'in', parents)
      .where('revoked_at', 'is', null)
      .execute();
    parents = children.map((child) => child.secret_hash);
    if (parents.length === 0) return;
    await db
      .updateTable('tokens')
      .set({ revoked_at: timestamp(clock) })
      .where('user_id', '=', userId)
      .where('secret_hash', 'in', parents)
      .execute();
  }
}

/** Revokes the user's tokens with this secret (one multi-region token's row here); resolves how many. */
export async function revokeTokensByHash(
  db: Db,
  clock: Clock,
  userId: string,
  secretHash: string,
): Promise<number> {
  const result = await db
    .updateTable('tokens')
    .set({ revoked_at: timestamp(clock) })
    .where('user_id', '=', userId)
    .where('secret_hash', '=', secretHash)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
  await revokeDescendants(db, clock, userId, [secretHash]);
  return Number(result.numUpdatedRows);
}

/**
 * Revokes every token of the user issued at or before `issuedBefore` (ISO 8601), as a Keystone revocation
 * event by user does: a token issued later (after the user was enabled again) is not touched, so the same
 * revocation may arrive late, or twice, from another region. Resolves how many it revoked.
 */
export async function revokeUserTokens(
  db: Db,
  clock: Clock,
  userId: string,
  issuedBefore: string,
): Promise<number> {
  const revoked = await db
    .selectFrom('tokens')
    .select('secret_hash')
    .where('user_id', '=', userId)
    .where('created_at', '<=', issuedBefore)
    .where('revoked_at', 'is', null)
    .execute();
  if (revoked.length === 0) return 0;
  const hashes = revoked.map((token) => token.secret_hash);
  await db
    .updateTable('tokens')
    .set({ revoked_at: timestamp(clock) })
    .where('user_id', '=', userId)
    .where('secret_hash', 'in', hashes)
    .execute();
  // A copy stored here after the cut (this region's clock ahead) still goes with the token it was made with.
  await revokeDescendants(db, clock, userId, hashes);
  return hashes.length;
}

/**
 * Sets whether the user may authenticate, unless a later change is recorded already (`changedAt` against
 * `enabled_changed_at`): changes from several regions, arriving in any order, settle on the latest. Resolves
 * false if the user is unknown here or a later change won.
 */
export async function setUserEnabled(
  db: Db,
  userId: string,
  enabled: boolean,
  changedAt: string,
): Promise<boolean> {
  const result = await db
    .updateTable('users')
    .set({ enabled: enabled ? 1 : 0, enabled_changed_at: changedAt })
    .where('id', '=', userId)
    .where((eb) => eb.or([eb('enabled_changed_at', 'is', null), eb('enabled_changed_at', '<=', changedAt)]))
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

export async function insertAgency(
  db: Db,
  clock: Clock,
  row: { id: string; account_id: string; name: string; policies: Array<{ region: string; policy: string }> },
): Promise<Agency> {
  const created_at = timestamp(clock);
  await db.transaction().execute(async (tx) => {
    await tx
      .insertInto('agencies')
      .values({ id: row.id, account_id: row.account_id, name: row.name, created_at })
      .execute();
    if (row.policies.length > 0) {
      await tx
        .insertInto('agency_policies')
        .values(row.policies.map((p) => ({ agency_id: row.id, region: p.region, policy: p.policy })))
        .execute();
    }
  });
  return { id: row.id, account_id: row.account_id, name: row.name, created_at, policies: row.policies };
}

export async function findAgencyByName(db: Db, accountId: string, name: string): Promise<Agency | undefined> {
  const agency = await db
    .selectFrom('agencies')
    .selectAll()
    .where('account_id', '=', accountId)
    .where('name', '=', name)
    .executeTakeFirst();
  if (!agency) return undefined;
  return { ...agency, policies: await agencyPolicies(db, agency.id) };
}

export async function listAgencies(db: Db, accountId: string): Promise<Agency[]> {
  const agencies = await db
    .selectFrom('agencies')
    .selectAll()
    .where('account_id', '=', accountId)
    .orderBy('name')
    .execute();
  return Promise.all(agencies.map(async (a) => ({ ...a, policies: await agencyPolicies(db, a.id) })));
}

async function agencyPolicies(db: Db, agencyId: string): Promise<Array<{ region: string; policy: string }>> {
  return db
    .selectFrom('agency_policies')
    .select(['region', 'policy'])
    .where('agency_id', '=', agencyId)
    .orderBy('region')
    .orderBy('policy')
    .execute();
}

/** Deletes the agency of this account; returns false if there was none. */
export async function deleteAgency(db: Db, accountId: string, name: string): Promise<boolean> {
  const result = await db
    .deleteFrom('agencies')
    .where('account_id', '=', accountId)
    .where('name', '=', name)
    .executeTakeFirst();
  return Number(result.numDeletedRows) > 0;
}
