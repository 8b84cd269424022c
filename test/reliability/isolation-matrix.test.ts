// Isolation, generated (issue 22, point 5): every route of the region's /openapi.json is called as each of
// seven principals (no token, the owner's expired token, the owner's revoked token, a user of another account,
// a user of another project of the owner's account, a member the shared image was shared with, an
// administrator) against the demo account's resources (a private image, a shared image, a replication job, a
// webhook, a vault, an agency, a token), and answers what the rules below say: 401 without a valid token
// except on public routes; 404, never 403, for a resource of another project or account (no existence
// oracle); 403 where the caller sees the thing but may not change it, and on administrator routes; the
// resources are unchanged afterwards; no answer to a stranger names them. A route of the document that no
// rule classifies fails the test. Region-to-region routes (/internal) refuse every user token, the
// administrator's included; a replication grant reads its own image and nothing else. The regions run as
// `ferry serve` processes, and no line of their logs carries a token secret, a region credential, a webhook
// secret or a grant. FERRY_ISOLATION_ROUNDS (CI: 1) repeats the matrix that many times on the same targets.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { sha256Digest } from '../../src/blobs/chunk-store.js';
import { readCredential, regionCredentialFile } from '../../src/config/region-credential.js';
import { PEER_CALLS } from '../../src/replication/peer-api.js';
import { openDatabase, type Db } from '../../src/store/db.js';
import { findJob } from '../../src/store/jobs.js';
import { api, JSON_PATCH, OCTET, type ApiResponse } from '../helpers/deployment.js';
import { documentedRoutes, fillPath, type DocumentedRoute } from '../helpers/openapi-routes.js';
import { startRegionProcesses } from '../helpers/region-processes.js';
import { recordReliability } from '../helpers/reliability.js';
import { pseudoRandom, requestReplication, uploadImage, waitForJob } from '../helpers/replication.js';

const ROUNDS = Number(process.env.FERRY_ISOLATION_ROUNDS ?? 1);
/** A bound for "no hang" only: a call on a 2-core machine shared with other tests answers in far less. */
const CALL_TIMEOUT_MS = 30_000;
/** The slow job's pace: its 8 MiB take about 8 s, so its grant stays valid while the test presents it. */
const SLOW_JOB_BYTES_PER_SECOND = 1024 * 1024;
const MiB = 1024 * 1024;

const PRINCIPALS = ['none', 'expired', 'revoked', 'other', 'sibling', 'member', 'admin'] as const;
type Who = (typeof PRINCIPALS)[number];
const VALID: Who[] = ['other', 'sibling', 'member', 'admin'];

/**
 * What a cell expects: an exact refusal, a status with its error code (a rule of the route that its owner
 * meets too), `ok` (2xx/3xx), or `allowed` (past every access check: not 401/403/404).
 */
type Expect = 401 | 403 | 404 | `${number} ${string}` | 'ok' | 'allowed';
type Row = Record<'other' | 'sibling' | 'member' | 'admin', Expect>;

/** The rules, per class of route (docs/security.md, "Isolation"; images/access.ts): who gets what. */
const CLASSES = {
  /** Discovery: no token needed, the same answer for all. */
  public: { other: 'ok', sibling: 'ok', member: 'ok', admin: 'ok' },
  /** About the caller only (its lists, its new things): every valid token, each sees its own. */
  self: { other: 'allowed', sibling: 'allowed', member: 'allowed', admin: 'allowed' },
  /** Administrator routes: 403 for anyone else, before the body is read. */
  admin: { other: 403, sibling: 403, member: 403, admin: 'allowed' },
  /** Reading the private image: its project and administrators; anyone else is told it does not exist. */
  privateRead: { other: 404, sibling: 404, member: 404, admin: 'allowed' },
  /** Reading the shared image: a member too. */
  sharedRead: { other: 404, sibling: 404, member: 'allowed', admin: 'allowed' },
  /** Changing the private image. */
  privateWrite: { other: 404, sibling: 404, member: 404, admin: 'allowed' },
  /** Changing the shared image: a member sees it, so it is forbidden, not hidden. */
  sharedWrite: { other: 404, sibling: 404, member: 403, admin: 'allowed' },
  /** A member's answer to the sharing of the shared image: the member's alone, not even an administrator's. */
  memberAnswer: { other: 404, sibling: 404, member: 'allowed', admin: '403 FORBIDDEN' },
  /** Members of the private image: it has none (only shared images have), which its owner is told too. */
  privateMembers: { other: 404, sibling: 404, member: 404, admin: '403 FORBIDDEN' },
  privateMemberRemoval: { other: 404, sibling: 404, member: 404, admin: '404 MEMBER_NOT_FOUND' },
  /** Replicating: only the owner's private images (an administrator is no owner of them, a member neither). */
  replicatePrivate: { other: 404, sibling: 404, member: 404, admin: '403 REPLICATION_NOT_OWNER' },
  replicateShared: { other: 404, sibling: 404, member: 403, admin: '403 REPLICATION_NOT_OWNER' },
  /** Cancelling a replica's copy: neither image is one, as its owner would be told. */
  cancelCopyPrivate: { other: 404, sibling: 404, member: 404, admin: '404 JOB_NOT_FOUND' },
  cancelCopyShared: { other: 404, sibling: 404, member: 403, admin: '404 JOB_NOT_FOUND' },
  /** The member's answer in IMS's batch: an administrator, not being a member, is told so. */
  batchAnswer: { other: 404, sibling: 404, member: 'allowed', admin: '404 MEMBER_NOT_FOUND' },
  batchOnPrivate: { other: 404, sibling: 404, member: 404, admin: '404 MEMBER_NOT_FOUND' },
  /** An administrator answering for its own project, no member of the (spare, by then shared) image. */
  batchAnswerOnPrivate: { other: 404, sibling: 404, member: 404, admin: '403 FORBIDDEN' },
  /** A member sees only its own membership: another member of the image is not found for it. */
  batchRemovalShared: { other: 404, sibling: 404, member: '404 MEMBER_NOT_FOUND', admin: 'allowed' },
  /**
   * BCC's remote copy names no agency: the caller's account must have one in the destination, checked before
   * the image is (the same answer for any image, so no oracle). The other accounts exist in north-1 only, so
   * only the demo account's other project reaches the image check.
   */
  remoteCopy: {
    other: '400 REPLICATION_AGENCY_INVALID',
    sibling: 404,
    member: '400 REPLICATION_AGENCY_INVALID',
    admin: '400 REPLICATION_AGENCY_INVALID',
  },
  /** Replication jobs: the account's, in its project; an administrator's account has none of them. */
  job: { other: 404, sibling: 404, member: 404, admin: 404 },
  /** Account-wide things (webhooks, agencies): any user of the account. */
  account: { other: 404, sibling: 'allowed', member: 404, admin: 404 },
  /** Project things (vaults): the project and administrators. */
  project: { other: 404, sibling: 404, member: 404, admin: 'allowed' },
  /** The owner's token: only its user may revoke it. */
  userToken: { other: 404, sibling: 404, member: 404, admin: 404 },
} satisfies Record<string, Row>;
type ClassName = keyof typeof CLASSES;

/** The demo's resources a call is made against. */
interface Targets {
  privateImage: string;
  sharedImage: string;
  job: string;
  webhook: string;
  vault: string;
  agency: string;
}

interface Context {
  t: Targets;
  tag: string;
  memberProject: string;
  /** A second member of the shared image (pending), and a project that is none. */
  pendingProject: string;
  strangerProject: string;
  /** The caller's own project (the member's answers name it). */
  ownProject: string;
  demoTokenId: string;
  /** Administrator routes act on a throwaway account and user of their own. */
  spareAccount: string;
  spareUser: string;
  spareProject: string;
  spareToken: string;
  who: Who;
}

/**
 * The rule of each documented route: its class (or, for routes on one image, the class per image), the value
 * of its path parameters, and a body that would succeed for the owner (so a refusal is the access check's).
 */
interface Rule {
  classes: ClassName | { private: ClassName; shared: ClassName };
  params?: (c: Context, image: string) => Record<string, string>;
  body?: (c: Context, image: string) => unknown;
  headers?: Record<string, string>;
  query?: string;
  /** IMS's batch: the answer is a finished job whose fail_reason names each refusal (images/batch-members.ts). */
  batchJob?: boolean;
}
const image = (_c: Context, id: string) => ({ id });
const imageRead = { private: 'privateRead', shared: 'sharedRead' } as const;
const imageWrite = { private: 'privateWrite', shared: 'sharedWrite' } as const;
const copy = { region: 'south-1', agency_name: 'ferry_copy' };
const members = { private: 'privateMembers', shared: 'sharedRead' } as const;
const replicate = { private: 'replicatePrivate', shared: 'replicateShared' } as const;

const RULES: Record<string, Rule> = {
  'GET /healthz': { classes: 'public' },
  'GET /readyz': { classes: 'public' },
  'GET /metrics': { classes: 'admin' },
  'GET /': { classes: 'public' },
  'GET /versions': { classes: 'public' },
  'GET /v2': { classes: 'public' },
  'GET /v2/': { classes: 'public' },
  'GET /v2/schemas/image': { classes: 'public' },
  'GET /v2/schemas/images': { classes: 'public' },
  'GET /v2/schemas/member': { classes: 'public' },
  'GET /v2/schemas/members': { classes: 'public' },
  'GET /v2/info/import': { classes: 'self' },
  'GET /v1/regions': { classes: 'public' },
  'GET /v1/limits': { classes: 'self' },
  'POST /v2/images': {
    classes: 'self',
    body: (c) => ({ name: `own-${c.who}`, disk_format: 'raw', container_format: 'bare' }),
  },
  'GET /v2/images': { classes: 'self' },
  'GET /v2/images/{id}': { classes: imageRead, params: image },
  'PATCH /v2/images/{id}': {
    classes: imageWrite,
    params: image,
    body: () => [{ op: 'replace', path: '/name', value: 'taken-over' }],
    headers: JSON_PATCH,
  },
  'DELETE /v2/images/{id}': { classes: imageWrite, params: image },
  'PUT /v2/images/{id}/tags/{tag}': { classes: imageWrite, params: (c, id) => ({ id, tag: 'planted' }) },
  'DELETE /v2/images/{id}/tags/{tag}': { classes: imageWrite, params: (c, id) => ({ id, tag: c.tag }) },
  'POST /v2/images/{id}/actions/deactivate': { classes: imageWrite, params: image },
  'POST /v2/images/{id}/actions/reactivate': { classes: imageWrite, params: image },
  'POST /v2/images/{id}/actions/freeze': { classes: 'admin', params: image },
  'POST /v2/images/{id}/actions/unfreeze': { classes: 'admin', params: image },
  'PUT /v2/images/{id}/file': {
    classes: imageWrite,
    params: image,
    body: () => pseudoRandom(4096, 99),
    headers: OCTET,
  },
  'GET /v2/images/{id}/file': { classes: imageRead, params: image },
  'GET /v1/cloudimages/{id}/disks/{index}/file': {
    classes: imageRead,
    params: (c, id) => ({ id, index: '0' }),
  },
  'POST /v2/images/{id}/members': {
    classes: { private: 'privateMembers', shared: 'sharedWrite' },
    params: image,
    body: (c) => ({ member: c.spareProject }),
  },
  'GET /v2/images/{id}/members': { classes: members, params: image },
  'GET /v2/images/{id}/members/{member}': {
    classes: members,
    params: (c, id) => ({ id, member: c.memberProject }),
  },
  'PUT /v2/images/{id}/members/{member}': {
    classes: { private: 'privateMembers', shared: 'memberAnswer' },
    params: (c, id) => ({ id, member: c.memberProject }),
    body: () => ({ status: 'accepted' }),
  },
  'DELETE /v2/images/{id}/members/{member}': {
    classes: { private: 'privateMemberRemoval', shared: 'sharedWrite' },
    params: (c, id) => ({ id, member: c.memberProject }),
  },
  'POST /v1/cloudimages/members': {
    classes: imageWrite,
    body: (c, id) => ({ images: [id], projects: [c.strangerProject] }),
    batchJob: true,
  },
  'DELETE /v1/cloudimages/members': {
    classes: { private: 'batchOnPrivate', shared: 'batchRemovalShared' },
    body: (c, id) => ({ images: [id], projects: [c.pendingProject] }),
    batchJob: true,
  },
  'PUT /v1/cloudimages/members': {
    classes: { private: 'batchAnswerOnPrivate', shared: 'batchAnswer' },
    body: (c, id) => ({ images: [id], project_id: c.ownProject, status: 'accepted' }),
    batchJob: true,
  },
  'GET /v1/auth/whoami': { classes: 'self' },
  'GET /v1/projects': { classes: 'self' },
  'POST /v1/tokens': { classes: 'self', body: () => ({ description: 'matrix' }) },
  'GET /v1/tokens': { classes: 'self' },
  'DELETE /v1/tokens/{id}': { classes: 'userToken', params: (c) => ({ id: c.demoTokenId }) },
  'GET /v1/agencies': { classes: 'self' },
  'POST /v1/agencies': { classes: 'self', body: (c) => ({ name: `agency-${c.who}` }) },
  'GET /v1/agencies/{name}': { classes: 'account', params: (c) => ({ name: c.t.agency }) },
  'DELETE /v1/agencies/{name}': { classes: 'account', params: (c) => ({ name: c.t.agency }) },
  'GET /v1/admin/accounts': { classes: 'admin' },
  'POST /v1/admin/accounts': { classes: 'admin', body: (c) => ({ name: `acct-${c.who}` }) },
  'GET /v1/admin/accounts/{id}': { classes: 'admin', params: (c) => ({ id: c.spareAccount }) },
  'POST /v1/admin/accounts/{id}/users': {
    classes: 'admin',
    params: (c) => ({ id: c.spareAccount }),
    body: (c) => ({ name: `user-${c.who}` }),
  },
  'POST /v1/admin/accounts/{id}/projects': {
    classes: 'admin',
    params: (c) => ({ id: c.spareAccount }),
    body: (c) => ({ name: `project-${c.who}` }),
  },
  'POST /v1/admin/users/{id}/tokens': {
    classes: 'admin',
    params: (c) => ({ id: c.spareUser }),
    body: (c) => ({ project_id: c.spareProject }),
  },
  'GET /v1/admin/users/{id}/tokens': { classes: 'admin', params: (c) => ({ id: c.spareUser }) },
  'DELETE /v1/admin/users/{id}/tokens': { classes: 'admin', params: (c) => ({ id: c.spareUser }) },
  'DELETE /v1/admin/users/{id}/tokens/{token}': {
    classes: 'admin',
    params: (c) => ({ id: c.spareUser, token: c.spareToken }),
  },
  'PATCH /v1/admin/users/{id}': {
    classes: 'admin',
    params: (c) => ({ id: c.spareUser }),
    body: () => ({ enabled: true }),
  },
  'POST /v1/cloudimages/{id}/cross_region_copy': { classes: replicate, params: image, body: () => copy },
  'POST /v1/cloudimages/cross_region_copy': {
    classes: replicate,
    body: (c, id) => ({ image_ids: [id], ...copy }),
  },
  // In-region copy reads the image: a member may copy a shared image into its own (IMS).
  'POST /v1/cloudimages/{id}/copy': { classes: imageRead, params: image, body: () => ({ name: 'copied' }) },
  'GET /v1/cloudimages/job/{job}': { classes: 'job', params: (c) => ({ job: c.t.job }) },
  'GET /v1/cloudimages/jobs': { classes: 'self' },
  'POST /v1/cloudimages/job/{job}/cancel': { classes: 'job', params: (c) => ({ job: c.t.job }) },
  'POST /v1/cloudimages/{id}/cancel_copy': {
    classes: { private: 'cancelCopyPrivate', shared: 'cancelCopyShared' },
    params: image,
  },
  'GET /v1/usage': { classes: 'self' },
  'GET /v1/usage/transfer': { classes: 'self' },
  'POST /v2/image/{id}': {
    classes: 'remoteCopy',
    params: image,
    query: 'remoteCopy',
    body: () => ({ destRegion: ['south-1'] }),
  },
  'GET /v1/events': { classes: 'self' },
  'POST /v1/webhooks': { classes: 'self', body: (c) => ({ url: `https://hooks.example.com/${c.who}` }) },
  'GET /v1/webhooks': { classes: 'self' },
  'DELETE /v1/webhooks/{id}': { classes: 'account', params: (c) => ({ id: c.t.webhook }) },
  'GET /v1/webhooks/{id}/deliveries': { classes: 'account', params: (c) => ({ id: c.t.webhook }) },
  'POST /v1/vaults': {
    classes: 'self',
    body: (c) => ({ name: `vault-${c.who}`, protection_type: 'backup', size_gib: 10 }),
  },
  'GET /v1/vaults': { classes: 'self' },
  'GET /v1/vaults/{id}': { classes: 'project', params: (c) => ({ id: c.t.vault }) },
  'DELETE /v1/vaults/{id}': { classes: 'project', params: (c) => ({ id: c.t.vault }) },
  'GET /v1/vaults/{id}/backups': { classes: 'project', params: (c) => ({ id: c.t.vault }) },
  'POST /v1/cloudimages/wholeimages': {
    classes: 'project',
    body: (c) => ({ name: `whole-${c.who}`, vault_id: c.t.vault, disks: [c.t.privateImage] }),
  },
  'GET /v1/cloudimages/{id}/disks': { classes: imageRead, params: image },
  'POST /v1/admin/gc': { classes: 'admin' },
  'POST /v1/admin/scrub': { classes: 'admin' },
  'GET /v1/admin/runtime': { classes: 'admin' },
  'POST /v1/admin/runtime/reset': { classes: 'admin' },
};

function matches(expect: Expect, status: number, code: unknown): boolean {
  if (status >= 500) return false;
  if (typeof expect === 'string' && / /.test(expect)) return expect === `${status} ${String(code)}`;
  if (expect === 'ok') return status < 400;
  if (expect === 'allowed') return ![401, 403, 404].includes(status);
  return status === expect;
}

test(
  'every route × principal answers as the rules say, changes nothing of the owner, and logs no secret',
  { timeout: 300_000 },
  async (t) => {
    // SQLite and a blob folder, whatever the stack: the test reads a job's grant and sets a token's expiry in
    // the regions' own database files, and the reliability suite runs in the embedded configuration.
    const r = await startRegionProcesses(t, ['north-1', 'south-1'], {
      storage: { blobStore: 'fs' },
      replication: { pollMs: 50, retryBaseMs: 100 },
    });
    const north = r.url('north-1');
    const dbs: Db[] = [];
    t.after(() => Promise.all(dbs.map((db) => db.destroy())));
    const dbOf = async (region: string) => {
      const db = await openDatabase({ kind: 'sqlite', file: join(r.dataDir, region, 'ferry.sqlite') });
      dbs.push(db);
      return db;
    };
    const secrets = new Set<string>([r.demo.token, r.admin.token]);
    const call = async (
      token: string | undefined,
      method: string,
      path: string,
      body?: unknown,
      headers = {},
    ) => {
      const answer = await api(north, token, method, path, body, headers);
      for (const field of ['secret'])
        if (typeof answer.body?.[field] === 'string') secrets.add(answer.body[field]);
      return answer;
    };
    const must = async (
      status: number,
      token: string,
      method: string,
      path: string,
      body?: unknown,
      headers = {},
    ) => {
      const answer = await call(token, method, path, body, headers);
      assert.equal(answer.status, status, `${method} ${path}: ${JSON.stringify(answer.body)}`);
      return answer.body;
    };
    const admin = r.admin.token;
    const demo = r.demo.token;

    // The principals.
    const userWithToken = async (account: string, user: string, project: string) => {
      const userId = (await must(201, admin, 'POST', `/v1/admin/accounts/${account}/users`, { name: user }))
        .id;
      const issued = await must(201, admin, 'POST', `/v1/admin/users/${userId}/tokens`, {
        project_id: project,
      });
      return { userId, token: issued.secret as string, tokenId: issued.id as string };
    };
    const accountWith = async (name: string) => {
      const account = (await must(201, admin, 'POST', '/v1/admin/accounts', { name })).id as string;
      const project = (
        await must(201, admin, 'POST', `/v1/admin/accounts/${account}/projects`, { name: 'north-1' })
      ).id as string;
      return { account, project, ...(await userWithToken(account, `${name}-user`, project)) };
    };
    const whoami = await must(200, demo, 'GET', '/v1/auth/whoami');
    const other = await accountWith('rival');
    const partner = await accountWith('partner');
    const spare = await accountWith('spare');
    const staging = (
      await must(201, admin, 'POST', `/v1/admin/accounts/${whoami.account.id}/projects`, { name: 'staging' })
    ).id as string;
    const sibling = await userWithToken(whoami.account.id, 'dana', staging);
    const expiring = await must(201, demo, 'POST', '/v1/tokens', { description: 'to expire' });
    const revoked = await must(201, demo, 'POST', '/v1/tokens', { description: 'to revoke' });
    await must(204, demo, 'DELETE', `/v1/tokens/${revoked.id}`);
    const northDb = await dbOf('north-1');
    // No token can be issued already expired (60 s at least): its row is moved into the past, as time would.
    await northDb
      .updateTable('tokens')
      .set({ expires_at: '2001-01-01T00:00:00.000Z' })
      .where('id', '=', expiring.id)
      .execute();
    const projects: Record<Who, string> = {
      none: '',
      expired: '',
      revoked: '',
      other: other.project,
      sibling: staging,
      member: partner.project,
      admin: r.admin.projects['north-1']!,
    };
    const tokens: Record<Who, string | undefined> = {
      none: undefined,
      expired: expiring.secret,
      revoked: revoked.secret,
      other: other.token,
      sibling: sibling.token,
      member: partner.token,
      admin,
    };
    for (const who of ['expired', 'revoked'] as const)
      assert.equal((await call(tokens[who], 'GET', '/v1/auth/whoami')).status, 401, who);

    /** An answer's status and error code (Ferry's and IMS's `{error: {code}}`, BCC's `{code}`). */
    const answerOutcome = (answer: ApiResponse) => ({
      status: answer.status,
      code: (answer.body?.error?.code ?? answer.body?.code) as string | undefined,
    });
    /** A batch's outcome as its job tells it: the refusal's status, or 200 when every pair was done. */
    const batchOutcome = async (token: string, answer: ApiResponse) => {
      if (answer.status !== 200) return answerOutcome(answer);
      const job = await must(200, token, 'GET', `/v1/cloudimages/job/${answer.body.job_id}`);
      if (job.status === 'SUCCESS') return { status: 200, code: undefined };
      const code = /: ([A-Z_]+): /.exec(String(job.fail_reason))?.[1];
      const status = /NOT_FOUND$/.test(code ?? '') ? 404 : code === 'FORBIDDEN' ? 403 : 409;
      return { status, code };
    };

    // The demo's resources: a primary set every principal meets, and a spare set for the calls the rules
    // allow to change something (an administrator's, a member's answer, another user of the account).
    const canary = `canary-${createHash('sha256').update(String(process.pid)).digest('hex').slice(0, 12)}`;
    const sharedData = pseudoRandom(8 * MiB + 4096, 7);
    const privateData = pseudoRandom(64 * 1024, 8);
    const makeTargets = async (set: string, shared: Buffer, own: Buffer): Promise<Targets> => {
      const privateImage = await uploadImage(r, demo, 'north-1', own, { name: `${canary}-${set}-private` });
      const sharedImage = await uploadImage(r, demo, 'north-1', shared, {
        name: `${canary}-${set}-shared`,
        visibility: 'shared',
      });
      for (const id of [privateImage, sharedImage])
        await must(204, demo, 'PUT', `/v2/images/${id}/tags/${canary}`);
      await must(200, demo, 'POST', `/v2/images/${sharedImage}/members`, { member: partner.project });
      await must(200, demo, 'POST', `/v2/images/${sharedImage}/members`, { member: spare.project });
      await must(200, partner.token, 'PUT', `/v2/images/${sharedImage}/members/${partner.project}`, {
        status: 'accepted',
      });
      const webhook = (
        await must(201, demo, 'POST', '/v1/webhooks', { url: `https://hooks.example.com/${canary}-${set}` })
      ).id;
      const vault = (
        await must(201, demo, 'POST', '/v1/vaults', {
          name: `${canary}-${set}`,
          protection_type: 'backup',
          size_gib: 10,
        })
      ).id;
      const agency = set === 'primary' ? 'ferry_copy' : `${set}-agency`;
      if (set !== 'primary') await must(201, demo, 'POST', '/v1/agencies', { name: agency });
      return { privateImage, sharedImage, job: '', webhook, vault, agency };
    };
    const primary = await makeTargets('primary', sharedData, privateData);
    const spareTargets = await makeTargets('spare', pseudoRandom(64 * 1024, 9), pseudoRandom(64 * 1024, 10));

    // A grant reads its own image and nothing else (the slow job's, while it runs).
    const started = await requestReplication(north, demo, primary.sharedImage, {
      ...copy,
      bandwidth_limit: SLOW_JOB_BYTES_PER_SECOND,
    });
    assert.equal(started.status, 200, JSON.stringify(started.body));
    primary.job = started.body.job_id;
    spareTargets.job = primary.job;
    const otherJob = (await requestReplication(north, demo, spareTargets.privateImage, copy)).body
      .job_id as string;
    const southDb = await dbOf('south-1');
    let grant: string | null | undefined;
    for (let i = 0; i < 200 && !grant; i++) {
      grant = (await findJob(southDb, primary.job))?.grant_secret;
      if (!grant) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.ok(grant, 'the destination holds the grant');
    secrets.add(grant);
    const credentials: Record<string, string> = {};
    for (const region of ['north-1', 'south-1']) {
      credentials[region] = await readCredential(regionCredentialFile(r.dataDir, region));
      secrets.add(credentials[region]!);
    }
    const asSouth = {
      'x-ferry-region': 'south-1',
      'x-ferry-region-secret': credentials['south-1']!,
      'x-ferry-grant': grant,
    };
    const ownChunk = sha256Digest(sharedData.subarray(0, MiB));
    const own = await fetch(north + PEER_CALLS.grantChunks.path(primary.job), {
      method: 'POST',
      headers: { ...asSouth, 'content-type': 'application/json' },
      body: JSON.stringify({ digests: [ownChunk] }),
    });
    assert.equal(own.status, 200, 'the grant reads its own image');
    assert.ok(Buffer.from(await own.arrayBuffer()).equals(sharedData.subarray(0, MiB)));
    const grantRefusals: Array<[string, ApiResponse]> = [
      [
        'a chunk of another image',
        await api(
          north,
          undefined,
          'POST',
          PEER_CALLS.grantChunks.path(primary.job),
          { digests: [sha256Digest(privateData)] },
          asSouth,
        ),
      ],
      [
        'another job’s chunks',
        await api(
          north,
          undefined,
          'POST',
          PEER_CALLS.grantChunks.path(otherJob),
          { digests: [sha256Digest(privateData)] },
          asSouth,
        ),
      ],
      [
        'another job’s manifest',
        await api(north, undefined, 'GET', PEER_CALLS.grantManifest.path(otherJob), undefined, asSouth),
      ],
      [
        'a disk the image lacks',
        await api(
          north,
          undefined,
          'GET',
          `${PEER_CALLS.grantManifest.path(primary.job)}?disk=1`,
          undefined,
          asSouth,
        ),
      ],
    ];
    for (const [what, answer] of grantRefusals) {
      assert.equal(answer.status, 403, `${what}: ${JSON.stringify(answer.body)}`);
      assert.equal(answer.body.error.code, 'GRANT_INVALID', what);
    }
    assert.equal(
      (await api(north, undefined, 'GET', PEER_CALLS.grantManifest.path(primary.job), undefined, asSouth))
        .status,
      200,
    );

    // Region-to-region routes refuse every user token, as X-Auth-Token, as a bearer, or posing as a credential.
    let internalCalls = 0;
    for (const [name, peerCall] of Object.entries(PEER_CALLS)) {
      const path = peerCall.path(primary.job);
      for (const who of [...VALID, 'owner'] as const) {
        const token = who === 'owner' ? demo : tokens[who]!;
        for (const headers of <Array<Record<string, string>>>[
          { 'x-auth-token': token },
          { authorization: `Bearer ${token}` },
          { 'x-ferry-region': 'south-1', 'x-ferry-region-secret': token, 'x-ferry-grant': grant },
        ]) {
          const answer = await api(
            north,
            undefined,
            peerCall.method,
            path,
            peerCall.method === 'GET' ? undefined : {},
            headers,
          );
          internalCalls++;
          assert.equal(
            answer.status,
            401,
            `${peerCall.method} ${path} (${name}) as ${who}: ${JSON.stringify(answer.body)}`,
          );
        }
      }
    }
    await waitForJob(north, demo, primary.job, 120_000);
    await waitForJob(north, demo, otherJob, 120_000);

    // What the owner sees of its primary resources, before and after the matrix.
    const snapshot = async () => {
      const view: Record<string, unknown> = {};
      for (const id of [primary.privateImage, primary.sharedImage]) {
        view[id] = await must(200, demo, 'GET', `/v2/images/${id}`);
        const file = await fetch(`${north}/v2/images/${id}/file`, { headers: { 'x-auth-token': demo } });
        view[`${id}/file`] = createHash('sha256')
          .update(Buffer.from(await file.arrayBuffer()))
          .digest('hex');
        if (id === primary.sharedImage)
          view[`${id}/members`] = await must(200, demo, 'GET', `/v2/images/${id}/members`);
      }
      view.job = await must(200, demo, 'GET', `/v1/cloudimages/job/${primary.job}`);
      view.vault = await must(200, demo, 'GET', `/v1/vaults/${primary.vault}`);
      view.webhook = (await must(200, demo, 'GET', '/v1/webhooks')).webhooks.find(
        (hook: { id: string }) => hook.id === primary.webhook,
      );
      view.agency = await must(200, demo, 'GET', `/v1/agencies/${primary.agency}`);
      view.tokens = await must(200, demo, 'GET', '/v1/tokens');
      return view;
    };
    const before = await snapshot();
    assert.ok(before.webhook, "the owner's webhook is in its list");
    assert.equal(
      before[`${primary.sharedImage}/file`],
      createHash('sha256').update(sharedData).digest('hex'),
    );

    // The matrix.
    const routes = await documentedRoutes(north);
    const keyOf = (route: DocumentedRoute) => `${route.method.toUpperCase()} ${route.path}`;
    const unclassified = routes.map(keyOf).filter((key) => !(key in RULES));
    assert.deepEqual(unclassified, [], 'every documented route has a rule in this test');
    const stale = Object.keys(RULES).filter((key) => !routes.some((route) => keyOf(route) === key));
    assert.deepEqual(stale, [], 'every rule names a documented route');
    const strangers: Record<Who, string[]> = {
      none: [],
      expired: [],
      revoked: [],
      other: ['private', 'shared', canary + '-primary'],
      sibling: ['private', 'shared'],
      member: ['private'],
      admin: [],
    };
    const failures: string[] = [];
    let cells = 0;
    for (let round = 0; round < ROUNDS; round++) {
      for (const who of PRINCIPALS) {
        const runs: Array<{
          key: string;
          route: DocumentedRoute;
          rule: Rule;
          image: 'private' | 'shared';
          expect: Expect;
        }> = [];
        for (const route of routes) {
          const key = keyOf(route);
          const rule = RULES[key]!;
          const images =
            typeof rule.classes === 'string' ? (['private'] as const) : (['private', 'shared'] as const);
          for (const img of images) {
            const className = typeof rule.classes === 'string' ? rule.classes : rule.classes[img];
            const row: Row = CLASSES[className];
            const expect: Expect = who in row ? row[who as keyof Row] : className === 'public' ? 'ok' : 401;
            runs.push({ key, route, rule, image: img, expect });
          }
        }
        // Deletions last, the image's the very last: the calls before them meet what they were written for.
        const lateness = (key: string) =>
          key === 'DELETE /v2/images/{id}' ? 2 : key.startsWith('DELETE') ? 1 : 0;
        runs.sort((a, b) => lateness(a.key) - lateness(b.key));
        for (const { key, route, rule, image: img, expect } of runs) {
          // A call the rules let through that may change something goes to the spare set.
          const changes = route.method !== 'get' && expect === 'allowed';
          const targets = changes ? spareTargets : primary;
          const c: Context = {
            t: targets,
            tag: canary,
            memberProject: partner.project,
            pendingProject: spare.project,
            strangerProject: other.project,
            ownProject: projects[who],
            demoTokenId: whoami.token.id,
            spareAccount: spare.account,
            spareUser: spare.userId,
            spareProject: spare.project,
            spareToken: spare.tokenId,
            who,
          };
          const imageId = img === 'private' ? targets.privateImage : targets.sharedImage;
          const path =
            fillPath(route.path, rule.params?.(c, imageId) ?? {}) + (rule.query ? `?${rule.query}` : '');
          const body =
            rule.body?.(c, imageId) ?? (route.method === 'get' || route.method === 'delete' ? undefined : {});
          const answer = await Promise.race([
            call(tokens[who], route.method.toUpperCase(), path, body, rule.headers ?? {}),
            new Promise<never>((_, reject) =>
              setTimeout(() => reject(new Error(`${key} as ${who}: no answer`)), CALL_TIMEOUT_MS).unref(),
            ),
          ]);
          cells++;
          const outcome = rule.batchJob ? await batchOutcome(tokens[who]!, answer) : answerOutcome(answer);
          const label = `${key}${typeof rule.classes === 'string' ? '' : ` [${img}]`} as ${who}: expected ${expect}, got ${outcome.status} ${outcome.code ?? ''} ${(JSON.stringify(answer.body) ?? '').slice(0, 300)}`;
          if (!matches(expect, outcome.status, outcome.code)) failures.push(label);
          const text = JSON.stringify(answer.body) ?? '';
          for (const word of strangers[who]) {
            const name = word.startsWith(canary) ? word : `${canary}-primary-${word}`;
            if (text.includes(name)) failures.push(`${label}: the answer names ${name}`);
          }
        }
      }
    }
    if (failures.length > 0) console.error(failures.join('\n'));
    assert.deepEqual(failures, []);

    // Nothing of the owner's changed.
    assert.deepEqual(await snapshot(), before, "the owner's resources are as they were");

    // No secret in any log line.
    let logLines = 0;
    const leaks: string[] = [];
    for (const region of ['north-1', 'south-1']) {
      const lines = (await readFile(join(r.dataDir, `${region}.log`), 'utf8')).split('\n').filter(Boolean);
      logLines += lines.length;
      for (const line of lines)
        for (const secret of secrets)
          if (line.includes(secret)) leaks.push(`${region}: ${line.slice(0, 300)}`);
    }
    assert.ok(logLines > cells, `the regions logged the calls (${logLines} lines for ${cells} calls)`);
    assert.deepEqual(leaks, [], 'no token, credential, webhook secret or grant in the logs');

    await recordReliability({
      class: 'isolation',
      subject:
        'every documented route × 7 principals, the region-to-region routes, a replication grant, the logs',
      tried: `${routes.length} routes × ${PRINCIPALS.length} principals (${cells} calls, image routes on a private and a shared image, ${ROUNDS} round(s)); ${internalCalls} region-to-region calls with user tokens; 4 reads outside a grant`,
      held: `${cells} of ${cells} answers as the rules say, the owner's images, members, job, vault, webhooks, agency and tokens unchanged; ${internalCalls} of ${internalCalls} region-to-region calls refused (401); the grant read its own chunk and nothing else; ${logLines} log lines, none with any of ${secrets.size} secrets`,
      figures: {
        routes: routes.length,
        principals: PRINCIPALS.length,
        calls: cells,
        logLines,
        secrets: secrets.size,
      },
      file: 'test/reliability/isolation-matrix.test.ts',
    });
  },
);
