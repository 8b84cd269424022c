/**
 * Identity helpers for the administration commands: new ids, the regions an account, user or agency is
 * created in (every region of the catalog, with the same id, since each region keeps its own copy), and
 * accounts looked up by name.
 * @module
 */
import { randomBytes } from 'node:crypto';
import type { FerryClient } from './client.js';
import type { CliContext } from './context.js';
import { UsageError } from './errors.js';

export interface AccountView {
  id: string;
  name: string;
  created_at: string;
}

export interface AccountDetail extends AccountView {
  users: Array<{ id: string; name: string; is_admin: boolean; enabled: boolean; created_at: string }>;
  projects: Array<{ id: string; name: string; region: string; created_at: string }>;
}

const HEX_ID = /^[0-9a-f]{32}$/;

/** A new id in the form the identity API takes (32 hex digits). */
export function newId(): string {
  return randomBytes(16).toString('hex');
}

/** The regions `--regions` names (default: every region of the catalog, else the current one). */
export async function targetRegions(ctx: CliContext, names: string[] | undefined): Promise<string[]> {
  if (names && names.length > 0) return names;
  const all = await ctx.regions();
  return all.length > 0 && ctx.settings.catalog ? all.map((r) => r.name) : [ctx.settings.region ?? ''];
}

/** Clients for `regions` ('' = the configured endpoint). */
export function clientsFor(ctx: CliContext, regions: string[]): Promise<FerryClient[]> {
  return Promise.all(regions.map((r) => ctx.client(r === '' ? undefined : r)));
}

/** An account's id from its id or name. */
export async function resolveAccountId(client: FerryClient, ref: string): Promise<string> {
  if (HEX_ID.test(ref)) return ref;
  const { accounts } = await client.request<{ accounts: AccountView[] }>('GET', '/v1/admin/accounts');
  const account = accounts.find((a) => a.name === ref);
  if (!account) throw new UsageError(`no account named ${ref}; see \`ferry admin account list\``);
  return account.id;
}

/** A user's id from its id, or from its name in `account` (an id or name); a name without an account is refused. */
export async function resolveUserId(
  client: FerryClient,
  ref: string,
  accountRef: string | undefined,
): Promise<string> {
  if (HEX_ID.test(ref) && accountRef === undefined) return ref;
  if (accountRef === undefined) throw new UsageError('give --account with a user name, or the user ID');
  const accountId = await resolveAccountId(client, accountRef);
  const detail = await client.request<AccountDetail>('GET', `/v1/admin/accounts/${accountId}`);
  const user = detail.users.find((u) => u.id === ref || u.name === ref);
  if (!user) throw new UsageError(`account ${detail.name} has no user ${ref}`);
  return user.id;
}
