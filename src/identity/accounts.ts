/**
 * Accounts, their users and their projects in this region: who a token is, an account's projects here, and
 * an administrator's creation of each. Ids may be given, so that tooling writes the same ids into every
 * region (provision.ts does).
 * @module
 */
import { FerryError } from '../domain/errors.js';
import { newHexId } from '../domain/ids.js';
import {
  findAccount,
  findAccountByName,
  findProject,
  findUser,
  insertAccount,
  insertProject,
  insertUser,
  listProjects,
  listUsers,
  type Account,
  type Project,
  type User,
} from '../store/identity.js';
import type { RegionContext } from '../region/context.js';
import type { Principal } from './tokens.js';

/** Runs an insert; a unique-constraint failure becomes 409 DUPLICATE with `message`. */
export async function insertOnce<T>(work: () => Promise<T>, message: string): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (/unique|duplicate/i.test(String(error))) throw new FerryError('DUPLICATE', message);
    throw error;
  }
}

/** The caller's user, project and account rows (any may be gone since the token was issued). */
export async function whoIs(
  ctx: RegionContext,
  principal: Principal,
): Promise<{ user?: User; project?: Project; account?: Account }> {
  const [user, project, account] = await Promise.all([
    findUser(ctx.db, principal.userId),
    findProject(ctx.db, principal.projectId),
    findAccount(ctx.db, principal.accountId),
  ]);
  return { user, project, account };
}

/** The caller's account's projects in this region. */
export async function projectsHere(ctx: RegionContext, principal: Principal): Promise<Project[]> {
  return (await listProjects(ctx.db, principal.accountId)).filter((p) => p.region === ctx.region);
}

async function loadAccount(ctx: RegionContext, id: string): Promise<Account> {
  const account = await findAccount(ctx.db, id);
  if (!account) throw new FerryError('NOT_FOUND', `No account ${id}.`);
  return account;
}

export async function createAccount(
  ctx: RegionContext,
  fields: { id?: string; name: string },
): Promise<Account> {
  const message = `Account ${fields.name} exists.`;
  if (await findAccountByName(ctx.db, fields.name)) throw new FerryError('DUPLICATE', message);
  return insertOnce(
    () => insertAccount(ctx.db, ctx.clock, { id: fields.id ?? newHexId(), name: fields.name }),
    message,
  );
}

/** An account with its users and its projects (in every region). */
export async function accountWithMembers(
  ctx: RegionContext,
  id: string,
): Promise<{ account: Account; users: User[]; projects: Project[] }> {
  const account = await loadAccount(ctx, id);
  const [users, projects] = await Promise.all([
    listUsers(ctx.db, account.id),
    listProjects(ctx.db, account.id),
  ]);
  return { account, users, projects };
}

/** Inserts a row of the account (a user, a project) under `id` or a new one; a duplicate is 409 with `duplicate`. */
async function insertIntoAccount<T>(
  ctx: RegionContext,
  accountId: string,
  id: string | undefined,
  insert: (account: Account, id: string) => Promise<T>,
  duplicate: (account: Account) => string,
): Promise<T> {
  const account = await loadAccount(ctx, accountId);
  return insertOnce(() => insert(account, id ?? newHexId()), duplicate(account));
}

export function createUser(
  ctx: RegionContext,
  accountId: string,
  fields: { id?: string; name: string; is_admin?: boolean },
): Promise<User> {
  return insertIntoAccount(
    ctx,
    accountId,
    fields.id,
    (account, id) =>
      insertUser(ctx.db, ctx.clock, {
        id,
        account_id: account.id,
        name: fields.name,
        is_admin: fields.is_admin ?? false,
      }),
    (account) => `Account ${account.name} already has a user ${fields.name}.`,
  );
}

/** A project of the account in this region. */
export function createProject(
  ctx: RegionContext,
  accountId: string,
  fields: { id?: string; name: string },
): Promise<Project> {
  return insertIntoAccount(
    ctx,
    accountId,
    fields.id,
    (account, id) =>
      insertProject(ctx.db, ctx.clock, { id, account_id: account.id, region: ctx.region, name: fields.name }),
    (account) => `Account ${account.name} already has a project ${fields.name} in ${ctx.region}.`,
  );
}
