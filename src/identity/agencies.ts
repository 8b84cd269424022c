/**
 * Agencies: an account's named grants of policies per region (IMS's IAM agency). A replication into a region
 * needs an agency with `CrossCopyAgencyPolicy` there (domain/replication-rules.ts).
 * @module
 */
import { FerryError } from '../domain/errors.js';
import { newHexId } from '../domain/ids.js';
import {
  deleteAgency,
  findAgencyByName,
  insertAgency,
  listAgencies,
  type Agency,
} from '../store/identity.js';
import type { RegionContext } from '../region/context.js';
import { insertOnce } from './accounts.js';
import type { Principal } from './tokens.js';

export interface AgencyCreation {
  id?: string;
  name: string;
  policies?: Array<{ region: string; policy: string }>;
}

function noAgency(name: string): FerryError {
  return new FerryError('NOT_FOUND', `Your account has no agency named ${name}.`);
}

export function agenciesOf(ctx: RegionContext, principal: Principal): Promise<Agency[]> {
  return listAgencies(ctx.db, principal.accountId);
}

/** A new agency of the caller's account; each policy names a region of the catalog, and repeats count once. */
export async function createAgency(
  ctx: RegionContext,
  principal: Principal,
  fields: AgencyCreation,
): Promise<Agency> {
  const regions = new Set(ctx.catalog.regions.map((r) => r.name));
  const policies = (fields.policies ?? []).map(({ region, policy }, i) => {
    if (!regions.has(region)) {
      throw new FerryError('VALIDATION_FAILED', `policies[${i}].region must be a region of the catalog.`);
    }
    return { region, policy };
  });
  const distinct = [...new Map(policies.map((p) => [`${p.region}/${p.policy}`, p])).values()];
  return insertOnce(
    () =>
      insertAgency(ctx.db, ctx.clock, {
        id: fields.id ?? newHexId(),
        account_id: principal.accountId,
        name: fields.name,
        policies: distinct,
      }),
    fields.id !== undefined
      ? `Your account already has an agency named ${fields.name}, or the id is taken: leave id out to get a new one.`
      : `Your account already has an agency named ${fields.name}.`,
  );
}

export async function findAgency(ctx: RegionContext, principal: Principal, name: string): Promise<Agency> {
  const agency = await findAgencyByName(ctx.db, principal.accountId, name);
  if (!agency) throw noAgency(name);
  return agency;
}

export async function removeAgency(ctx: RegionContext, principal: Principal, name: string): Promise<void> {
  if (!(await deleteAgency(ctx.db, principal.accountId, name))) throw noAgency(name);
}
