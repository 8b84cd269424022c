/**
 * Two Ferry regions, north-1 and south-1, as separate `ferry serve` processes on loopback, for the benches
 * that replicate (bench/replicate.ts, bench/targets.ts): a catalog with each region's credential hash (the
 * credential in `<data>/<region>/region-credential`), a
 * deployment settings file (the defaults unless the bench asks otherwise, e.g. an injected flush delay), and
 * identity provisioned into each region's SQLite before start, as in test/helpers/region-processes.ts. Also
 * the API steps on them: replicate and wait, delete, collect garbage.
 * @module
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loopbackCatalog } from '../src/config/catalog.js';
import { ensureRegionCredentials } from '../src/config/region-credential.js';
import {
  apiJson,
  freePort,
  interrupted,
  REPO_ROOT,
  RssMonitor,
  run,
  startFerryProcess,
  type Cleanup,
  type Endpoint,
  type FerryProcess,
} from './lib.js';

export const SOURCE = 'north-1';
export const DEST = 'south-1';
export const AGENCY = 'ferry_copy';
const JOB_POLL_MS = 100;
const JOB_TIMEOUT_MS = 60 * 60 * 1000;

export interface Region {
  readonly name: string;
  /** The process that answers on the region's endpoint (the region, or its API process). */
  readonly process: FerryProcess<true>;
  /** The region's `ferry worker` processes, when it runs some. */
  readonly workers: ReadonlyArray<FerryProcess<true>>;
  readonly endpoint: Endpoint;
  /** The same region with an administrator's token. */
  readonly admin: Endpoint;
  readonly rss: RssMonitor;
}

/**
 * Starts north-1 and south-1 with their data under `dataDir` and `settings` as their `--settings` file
 * (written as given: the bench may pass keys this build does not know, and then the start fails with
 * Ferry's own message). Each process's output goes to `<dataDir>/<region>.log`; both are stopped by
 * `cleanup` at the latest (and by the caller's `stop` of each).
 */
export async function startRegions(options: {
  dataDir: string;
  settings: object;
  cleanup: Cleanup;
  profileDir?: string;
  /** Each region's PostgreSQL database and schema (default: SQLite in its folder). */
  database?: (region: string) => { url: string; schema: string };
  /** Run each region as one API process (`serve --api-only`) and this many `ferry worker` processes. */
  workers?: number;
}): Promise<Region[]> {
  const { dataDir } = options;
  const names = [SOURCE, DEST];
  const ports: number[] = [];
  while (ports.length < names.length) ports.push(await freePort());
  await mkdir(dataDir, { recursive: true });
  // Both directions allowed.
  const catalog = loopbackCatalog(names, ports, await ensureRegionCredentials(dataDir, names));
  const catalogFile = join(dataDir, 'catalog.json');
  const settingsFile = join(dataDir, 'settings.json');
  await writeFile(catalogFile, JSON.stringify(catalog));
  await writeFile(settingsFile, JSON.stringify(options.settings));

  const databases = Object.fromEntries(names.map((name) => [name, options.database?.(name)]));
  const { stdout } = await run(
    process.execPath,
    [
      '--import',
      'tsx',
      fileURLToPath(import.meta.url),
      PROVISION_COMMAND,
      dataDir,
      JSON.stringify(databases),
      ...names,
    ],
    { cwd: REPO_ROOT, signal: interrupted.signal },
  );
  const databaseFlags = (name: string) => {
    const database = databases[name];
    return database ? ['--database', database.url, '--database-schema', database.schema] : [];
  };
  const { token, adminToken } = JSON.parse(stdout) as { token: string; adminToken: string };

  const regions: Region[] = [];
  try {
    for (const name of names) {
      const profile =
        options.profileDir === undefined
          ? []
          : ['--cpu-prof', `--cpu-prof-dir=${join(options.profileDir, name)}`];
      const common = [
        '--region',
        name,
        '--catalog',
        catalogFile,
        '--data',
        dataDir,
        '--settings',
        settingsFile,
      ];
      const start = (args: string[], log: string) =>
        startFerryProcess({
          args: [...args, ...common, ...databaseFlags(name)],
          nodeFlags: profile,
          cleanup: options.cleanup,
          log: join(dataDir, log),
          ready: (_stdout, stderr) => (stderr.includes('listening on') ? true : undefined),
        });
      const scaledOut = options.workers !== undefined;
      const server = await start(scaledOut ? ['serve', '--api-only'] : ['serve'], `${name}.log`);
      const workers = [];
      for (let i = 1; i <= (options.workers ?? 0); i++) {
        workers.push(await start(['worker', '--port', String(await freePort())], `${name}-worker-${i}.log`));
      }
      const url = catalog.regions.find((region) => region.name === name)!.endpoint;
      regions.push({
        name,
        process: server,
        workers,
        endpoint: { url, token },
        admin: { url, token: adminToken },
        rss: new RssMonitor(server.pid),
      });
    }
  } catch (error) {
    await stopRegions(regions);
    throw error;
  }
  return regions;
}

export async function stopRegions(regions: readonly Region[]): Promise<void> {
  for (const region of regions) region.rss.stop();
  for (const region of regions) {
    for (const worker of region.workers) await worker.stop();
    await region.process.stop();
  }
}

/**
 * POST cross_region_copy of `imageId` from north-1 to south-1, then polls the job in north-1 every 100 ms
 * until it ends; throws unless it ends SUCCESS. Resolves the job's last view and the replica's id.
 */
export async function replicateAndWait(
  regions: readonly Region[],
  imageId: string,
): Promise<{ job: Record<string, unknown>; replicaId: string }> {
  const north = regions[0]!;
  const started = await apiJson(north.endpoint, 'POST', `/v1/cloudimages/${imageId}/cross_region_copy`, {
    region: DEST,
    agency_name: AGENCY,
  });
  if (started.status !== 200 || typeof started.body.job_id !== 'string') {
    throw new Error(`cross_region_copy answered ${started.status}: ${JSON.stringify(started.body)}`);
  }
  const jobId = started.body.job_id;
  const deadline = performance.now() + JOB_TIMEOUT_MS;
  let job: Record<string, unknown>;
  for (;;) {
    const answer = await apiJson(north.endpoint, 'GET', `/v1/cloudimages/job/${jobId}`);
    if (answer.status !== 200) throw new Error(`job ${jobId} answered ${answer.status}`);
    job = answer.body;
    if (['SUCCESS', 'FAIL', 'CANCELLED'].includes(String(job.status))) break;
    if (performance.now() > deadline) throw new Error(`job ${jobId} still ${String(job.status)}`);
    await new Promise((resolve) => setTimeout(resolve, JOB_POLL_MS));
    if (interrupted.signal.aborted) throw new Error('interrupted');
  }
  if (job.status !== 'SUCCESS') {
    throw new Error(
      `replication ended ${String(job.status)}: ${String(job.error_code)} ${String(job.fail_reason)}`,
    );
  }
  const replicaId = String((job.entities as Record<string, unknown> | undefined)?.image_id);
  return { job, replicaId };
}

export async function deleteImage(region: Region, id: string): Promise<void> {
  const deleted = await apiJson(region.endpoint, 'DELETE', `/v2/images/${id}`);
  if (deleted.status !== 204) throw new Error(`deleting ${id} in ${region.name} answered ${deleted.status}`);
}

/** Collects unreferenced chunks now (grace 0), so the next run stores and sends them again. */
export async function collectGarbage(region: Region): Promise<Record<string, unknown>> {
  const gc = await apiJson(region.admin, 'POST', '/v1/admin/gc', { grace_seconds: 0 });
  if (gc.status !== 200) {
    throw new Error(`garbage collection in ${region.name} answered ${gc.status}: ${JSON.stringify(gc.body)}`);
  }
  return gc.body;
}

/** Verifies every stored chunk now, at full speed (no rate cap): the most a scrub asks of the process. */
export async function scrubStore(region: Region): Promise<void> {
  const scrub = await apiJson(region.admin, 'POST', '/v1/admin/scrub', {});
  if (scrub.status !== 200) {
    throw new Error(`scrub in ${region.name} answered ${scrub.status}: ${JSON.stringify(scrub.body)}`);
  }
}

/** Lists the bench account's replication jobs in `region` (each read refreshes the jobs' state). */
export async function listJobs(region: Region): Promise<void> {
  const jobs = await apiJson(region.endpoint, 'GET', '/v1/cloudimages/jobs');
  if (jobs.status !== 200) throw new Error(`the job list of ${region.name} answered ${jobs.status}`);
}

/**
 * Ends the region process's event-loop window (POST /v1/admin/runtime/reset) and answers its longest stall
 * and p99, in ms; the next window starts there.
 */
export async function loopDelayWindow(region: Region): Promise<{ maxMs: number; p99Ms: number }> {
  const answer = await apiJson(region.admin, 'POST', '/v1/admin/runtime/reset');
  const loop = answer.body.event_loop_delay as { max_ms?: unknown; p99_ms?: unknown } | undefined;
  if (answer.status !== 200 || typeof loop?.max_ms !== 'number' || typeof loop.p99_ms !== 'number') {
    throw new Error(
      `${region.name}'s runtime figures answered ${answer.status}: ${JSON.stringify(answer.body)}`,
    );
  }
  return { maxMs: loop.max_ms, p99Ms: loop.p99_ms };
}

// ---------------------------------------------------------------------------------------------------------
// Provisioning, in a child process: `node --import tsx bench/regions.ts provision <data> <region>...`

const PROVISION_COMMAND = 'provision';

/**
 * Creates the bench's account, user and agency (allowed to replicate into every region) in each region's
 * SQLite file under `dataDir`, as an administrator's tooling does before the regions start; prints
 * `{"token": ..., "adminToken": ...}`, tokens valid in every region (the second an administrator's).
 * In a child process: the bench process must not load Ferry's modules (with SQLite, Kysely... loaded, its
 * heap is big enough that V8 runs a full mark-compact every few tens of MiB received over HTTP, which more
 * than tripled the client's CPU in the download rows).
 */
async function provisionRegions(
  dataDir: string,
  databases: Record<string, { url: string; schema: string } | undefined>,
  names: string[],
): Promise<void> {
  const [{ provisionIdentity }, { SYSTEM_CLOCK }, { openDatabase }] = await Promise.all([
    import('../src/identity/provision.js'),
    import('../src/store/clock.js'),
    import('../src/store/db.js'),
  ]);
  const dbs = [];
  try {
    for (const name of names) {
      await mkdir(join(dataDir, name), { recursive: true });
      const database = databases[name];
      dbs.push({
        region: name,
        db: await openDatabase(
          database
            ? { kind: 'postgres', url: database.url, schema: database.schema }
            : { kind: 'sqlite', file: join(dataDir, name, 'ferry.sqlite') },
        ),
      });
    }
    const { token } = await provisionIdentity(dbs, SYSTEM_CLOCK, {
      account: 'bench',
      user: 'bench',
      isAdmin: false,
      agency: AGENCY,
    });
    // For garbage collection between runs (POST /v1/admin/gc).
    const admin = await provisionIdentity(dbs, SYSTEM_CLOCK, {
      account: 'bench-operator',
      user: 'operator',
      isAdmin: true,
    });
    process.stdout.write(JSON.stringify({ token, adminToken: admin.token }));
  } finally {
    await Promise.all(dbs.map(({ db }) => db.destroy()));
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url) && process.argv[2] === PROVISION_COMMAND) {
  provisionRegions(process.argv[3]!, JSON.parse(process.argv[4]!), process.argv.slice(5)).catch(
    (error: unknown) => {
      console.error(error);
      process.exitCode = 1;
    },
  );
}
