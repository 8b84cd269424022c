/**
 * The load test's population (issue 22, point 6): accounts of users with tokens, provisioned through the
 * administrator's API in every region (the same ids in each, as identity/accounts.ts asks), each account with
 * a replication agency and a few small images in the source region.
 * @module
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { api } from '../helpers/deployment.js';
import type { RegionProcesses } from '../helpers/region-processes.js';
import { pseudoRandom, uploadImage } from '../helpers/replication.js';

export interface LoadUser {
  userId: string;
  token: string;
  account: LoadAccount;
}

export interface LoadAccount {
  accountId: string;
  /** The account's images in the source region, in upload order, with the bytes each holds. */
  images: Array<{ id: string; data: Buffer }>;
  users: LoadUser[];
}

export interface PopulationShape {
  accounts: number;
  usersPerAccount: number;
  imagesPerAccount: number;
  imageBytes: number;
  /** The region the images are uploaded to (and the tokens issued in). */
  source: string;
  /** The region the agency allows replication into. */
  destination: string;
  agency: string;
}

const hexId = () => randomBytes(16).toString('hex');

/** POST as the administrator, asserting 201; the answer's body. */
async function adminPost(p: RegionProcesses, region: string, path: string, body: unknown) {
  const answer = await api(p.url(region), p.admin.token, 'POST', path, body);
  assert.equal(answer.status, 201, `${region} POST ${path}: ${JSON.stringify(answer.body)}`);
  return answer.body;
}

async function provisionAccount(p: RegionProcesses, shape: PopulationShape, n: number): Promise<LoadAccount> {
  const regions = [shape.source, shape.destination];
  const accountId = hexId();
  const projects: Record<string, string> = {};
  for (const region of regions) {
    await adminPost(p, region, '/v1/admin/accounts', { name: `load-${n}`, id: accountId });
    const project = await adminPost(p, region, `/v1/admin/accounts/${accountId}/projects`, { name: region });
    projects[region] = project.id;
  }
  const account: LoadAccount = { accountId, images: [], users: [] };
  for (let u = 0; u < shape.usersPerAccount; u++) {
    const userId = hexId();
    for (const region of regions) {
      await adminPost(p, region, `/v1/admin/accounts/${accountId}/users`, { name: `user-${u}`, id: userId });
    }
    const token = await adminPost(p, shape.source, `/v1/admin/users/${userId}/tokens`, {
      project_id: projects[shape.source],
    });
    assert.deepEqual([...token.regions].sort(), [...regions].sort(), 'the token works in both regions');
    account.users.push({ userId, token: token.secret, account });
  }
  const first = account.users[0]!.token;
  const agencyId = hexId();
  for (const region of regions) {
    const agency = await api(p.url(region), first, 'POST', '/v1/agencies', {
      name: shape.agency,
      id: agencyId,
      policies: [{ region: shape.destination, policy: 'CrossCopyAgencyPolicy' }],
    });
    assert.equal(agency.status, 201, JSON.stringify(agency.body));
  }
  for (let i = 0; i < shape.imagesPerAccount; i++) {
    // Printable bytes (hex text), so a download's body compares exactly as the string the load client reads.
    const data = Buffer.from(pseudoRandom(shape.imageBytes / 2, n * 1000 + i + 1).toString('hex'));
    const id = await uploadImage(p, first, shape.source, data, { name: `load-${n}-${i}` });
    account.images.push({ id, data });
  }
  return account;
}

/** Provisions `shape.accounts` accounts, a few at a time (the administrator's calls are cheap but not free). */
export async function provisionPopulation(
  p: RegionProcesses,
  shape: PopulationShape,
): Promise<LoadAccount[]> {
  const accounts: LoadAccount[] = [];
  const PARALLEL_ACCOUNTS = 4;
  for (let start = 0; start < shape.accounts; start += PARALLEL_ACCOUNTS) {
    const batch = [];
    for (let n = start; n < Math.min(shape.accounts, start + PARALLEL_ACCOUNTS); n++) {
      batch.push(provisionAccount(p, shape, n));
    }
    accounts.push(...(await Promise.all(batch)));
  }
  return accounts;
}
