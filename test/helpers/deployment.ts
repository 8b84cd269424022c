/**
 * A local multi-region deployment for end-to-end tests: regions on free loopback ports in a temp data dir,
 * the demo account plus a second account ("other") and an administrator, all stopped after the test. With
 * FERRY_TEST_TLS=1 the regions serve HTTPS (helpers/tls.ts), so any test file can be run over TLS; with
 * FERRY_TEST_STACK they run on PostgreSQL, or PostgreSQL and S3 (helpers/stack.ts).
 * @module
 */
import type { TestContext } from 'node:test';
import { startLocal, type LocalDeployment } from '../../src/deploy/local.js';
import { provisionIdentity, type ProvisionedIdentity } from '../../src/identity/provision.js';
import { SYSTEM_CLOCK } from '../../src/store/clock.js';
import { testPostgresSchemas, type DialectName } from './db.js';
import { makeTempDir } from './tmp.js';
import type { ImageSettings, RegionLimits } from '../../src/config/limits.js';
import type { ReplicationSettings } from '../../src/config/replication.js';
import type { StorageSettings } from '../../src/config/storage.js';
import { readCredential, regionCredentialFile } from '../../src/config/region-credential.js';
import { TEST_TLS, testDeploymentTls } from './tls.js';
import { stackDialect, stackStorage } from './stack.js';

export interface TestDeployment extends LocalDeployment {
  dataDir: string;
  /** The regions' storage settings: where their blobs are (stored-chunks.ts reads them there). */
  storage: Partial<StorageSettings>;
  other: ProvisionedIdentity;
  admin: ProvisionedIdentity;
  url(region?: string): string;
}

/** Replication timings for tests: quick polling, short leases and backoffs. */
export const FAST_REPLICATION: Partial<ReplicationSettings> = {
  pollMs: 50,
  leaseMs: 2_000,
  retryBaseMs: 100,
};

export async function startTestDeployment(
  t: TestContext,
  regions = ['north-1', 'south-1'],
  replication: Partial<ReplicationSettings> = {},
  limits: Partial<RegionLimits> = {},
  images: Partial<ImageSettings> = {},
  dialect: DialectName = stackDialect(),
): Promise<TestDeployment> {
  // Hooks run in the order they are added: the deployment must stop before its folder is removed.
  const stop: Array<() => Promise<void>> = [];
  t.after(() => stop.pop()?.());
  const dataDir = await makeTempDir(t);
  const database = dialect === 'postgres' ? await testPostgresSchemas(t) : undefined;
  // A SQLite region keeps its blobs in its folder (the embedded form); a PostgreSQL one where the stack says.
  const storage = dialect === 'postgres' ? stackStorage(t) : {};
  const deployment = await startLocal({
    ...(database ? { database } : {}),
    dataDir,
    basePort: 0,
    regions,
    replication: { ...FAST_REPLICATION, ...replication },
    limits,
    images,
    storage,
    ...(TEST_TLS ? { tls: await testDeploymentTls() } : {}),
  });
  stop.push(() => deployment.close());
  if (TEST_TLS && !deployment.regions.every((r) => r.url.startsWith('https://'))) {
    throw new Error(
      `FERRY_TEST_TLS=1, yet a region serves plain HTTP: ${deployment.regions.map((r) => r.url)}`,
    );
  }
  const dbs = deployment.regions.map((r) => ({ region: r.name, db: r.ctx.db }));
  const other = await provisionIdentity(dbs, SYSTEM_CLOCK, {
    account: 'other',
    user: 'olga',
    isAdmin: false,
  });
  const admin = await provisionIdentity(dbs, SYSTEM_CLOCK, {
    account: 'admin',
    user: 'admin',
    isAdmin: true,
  });
  return {
    ...deployment,
    dataDir,
    storage,
    other,
    admin,
    url: (region) =>
      (region ? deployment.regions.find((r) => r.name === region)! : deployment.regions[0]!).url,
  };
}

/** The credential `region` of a test deployment presents in region-to-region calls (its file's content). */
export function regionCredential(d: { dataDir: string }, region: string): Promise<string> {
  return readCredential(regionCredentialFile(d.dataDir, region));
}

export interface ApiResponse {
  status: number;
  headers: Headers;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- tests read arbitrary JSON
}

/** Calls the API with a token; JSON bodies are sent as JSON unless a content type is given. */
export async function api(
  base: string,
  token: string | undefined,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<ApiResponse> {
  const init: RequestInit & { duplex?: string } = {
    method,
    headers: { ...(token ? { 'x-auth-token': token } : {}), ...headers },
  };
  if (body !== undefined) {
    if (typeof body === 'string' || body instanceof Uint8Array || body instanceof ReadableStream) {
      init.body = body as BodyInit;
      init.duplex = 'half';
    } else {
      init.body = JSON.stringify(body);
      (init.headers as Record<string, string>)['content-type'] ??= 'application/json';
    }
  }
  const response = await fetch(base + path, init);
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = text.length > 0 ? JSON.parse(text) : undefined;
  } catch {
    // Not JSON: keep the text.
  }
  return { status: response.status, headers: response.headers, body: parsed };
}

export const JSON_PATCH = { 'content-type': 'application/openstack-images-v2.1-json-patch' };
export const OCTET = { 'content-type': 'application/octet-stream' };
