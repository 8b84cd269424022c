/**
 * Creates identity in several regions at once with the same ids, as an administrator's tooling does:
 * the first administrator (bootstrap) and the local deployment's demo account. Idempotent: what exists is
 * kept, so a restart reuses the same account, users, projects and agency.
 * @module
 */
import { newHexId } from '../domain/ids.js';
import type { Clock } from '../store/clock.js';
import type { Db } from '../store/db.js';
import {
  countAdmins,
  findAccountByName,
  findAgencyByName,
  findProjectByName,
  findUserByName,
  insertAccount,
  insertAgency,
  insertProject,
  insertToken,
  insertUser,
} from '../store/identity.js';
import { prepareToken } from './tokens.js';

export interface RegionDb {
  region: string;
  db: Db;
}

export interface IdentitySpec {
  account: string;
  user: string;
  isAdmin: boolean;
  /** An agency allowed to replicate into every one of these regions (the demo's); none if undefined. */
  agency?: string;
}

export interface ProvisionedIdentity {
  accountId: string;
  userId: string;
  /** Project id per region; each region's project is named after the region (as IMS names them). */
  projects: Record<string, string>;
  /** A new token valid in every region (each region stores its hash), acting in that region's project. */
  token: string;
}

/** Looks the ids up in the first region that has them, so every region gets the same ids. */
async function existingIds(
  regions: RegionDb[],
  spec: IdentitySpec,
): Promise<{ accountId?: string; userId?: string }> {
  for (const { db } of regions) {
    const account = await findAccountByName(db, spec.account);
    if (!account) continue;
    const user = await findUserByName(db, account.id, spec.user);
    return { accountId: account.id, userId: user?.id };
  }
  return {};
}

export async function provisionIdentity(
  regions: RegionDb[],
  clock: Clock,
  spec: IdentitySpec,
  tokenTtlSeconds?: number,
): Promise<ProvisionedIdentity> {
  const found = await existingIds(regions, spec);
  const accountId = found.accountId ?? newHexId();
  const userId = found.userId ?? newHexId();
  const projects: Record<string, string> = {};
  // One secret for all regions; a project-scoped token row per region (each region's own project).
  const secret = prepareToken(clock, { userId, projectId: '' }).secret;
  for (const { region, db } of regions) {
    if (!(await findAccountByName(db, spec.account)))
      await insertAccount(db, clock, { id: accountId, name: spec.account });
    if (!(await findUserByName(db, accountId, spec.user))) {
      await insertUser(db, clock, {
        id: userId,
        account_id: accountId,
        name: spec.user,
        is_admin: spec.isAdmin,
      });
    }
    for (const { region: projectRegion } of regions) {
      if (!(await findProjectByName(db, accountId, projectRegion, projectRegion))) {
        // Project ids are per region but must agree across regions' copies: derive from the first seen.
        const id =
          projects[projectRegion] ?? (await projectIdIn(regions, accountId, projectRegion)) ?? newHexId();
        await insertProject(db, clock, {
          id,
          account_id: accountId,
          region: projectRegion,
          name: projectRegion,
        });
      }
      projects[projectRegion] ??= (await findProjectByName(db, accountId, projectRegion, projectRegion))!.id;
    }
    if (spec.agency && !(await findAgencyByName(db, accountId, spec.agency))) {
      await insertAgency(db, clock, {
        id: newHexId(),
        account_id: accountId,
        name: spec.agency,
        // Both of IMS's replication policies: disk images and whole-server images.
        policies: regions.flatMap((r) => [
          { region: r.region, policy: 'CrossCopyAgencyPolicy' },
          { region: r.region, policy: 'CrossCopyAgencyCBRPolicy' },
        ]),
      });
    }
    const { token } = prepareToken(clock, {
      userId,
      projectId: projects[region]!,
      description: `${spec.user} (provisioned)`,
      ttlSeconds: tokenTtlSeconds,
      secret,
    });
    await insertToken(db, token);
  }
  return { accountId, userId, projects, token: secret };
}

async function projectIdIn(
  regions: RegionDb[],
  accountId: string,
  region: string,
): Promise<string | undefined> {
  for (const { db } of regions) {
    const project = await findProjectByName(db, accountId, region, region);
    if (project) return project.id;
  }
  return undefined;
}

/** Whether any region already has an administrator (bootstrap runs once). */
export async function hasAdmin(regions: RegionDb[]): Promise<boolean> {
  for (const { db } of regions) if ((await countAdmins(db)) > 0) return true;
  return false;
}
