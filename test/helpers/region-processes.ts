/**
 * Regions as separate `ferry serve` processes on loopback, for tests that kill a region (kill -9) and
 * start it again, and for tests of regions each with settings of its own (TLS certificates). Each region's
 * credential is in `<data>/<region>/region-credential`, the catalog at `<data>/catalog.json`. Each process
 * logs to `<data>/<region>.log`; every process is stopped after the test. The regions run on the test stack
 * (stack.ts: SQLite or PostgreSQL, a blob folder or S3), except those whose settings name a blob store
 * (`storage.blobStore`): a test that reads the store's own files pins it, and those run on SQLite.
 * @module
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { loopbackCatalog, type RegionCatalog } from '../../src/config/catalog.js';
import { ensureRegionCredentials } from '../../src/config/region-credential.js';
import type { DeploymentSettings } from '../../src/config/settings.js';
import { provisionIdentity, type ProvisionedIdentity } from '../../src/identity/provision.js';
import { SYSTEM_CLOCK } from '../../src/store/clock.js';
import { openDatabase, type DatabaseConfig, type Db } from '../../src/store/db.js';
import { testPostgresSchemas } from './db.js';
import { stackDialect, stackStorage } from './stack.js';
import { makeTempDir } from './tmp.js';
import { ferryArgs } from './ferry-command.js';

export interface RegionProcesses {
  dataDir: string;
  /** The storage settings of the stack (where the regions keep their blobs unless their settings say). */
  storage: DeploymentSettings['storage'];
  /** The catalog file every region reads (but those `catalogOf` gives a catalog of their own). */
  catalogFile: string;
  demo: ProvisionedIdentity;
  /** An administrator of every region (storage operations). */
  admin: ProvisionedIdentity;
  url(region: string): string;
  pid(region: string): number;
  /** Sends the signal and waits for the process to end. */
  kill(region: string, signal: NodeJS.Signals): Promise<void>;
  /** Starts the region again; `flags` are added to its `ferry serve` command (e.g. another `--database`). */
  start(region: string, flags?: string[]): Promise<void>;
  /** The region's `--settings` file (rewrite it before `start` to restart the region with other settings). */
  settingsFile(region: string): string;
}

/** A TCP port free on 127.0.0.1 now (the OS's choice), for a process to listen on. */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  server.close();
  return port;
}

/**
 * The demo account (with its agency) and an administrator in each region's database, for regions that run as
 * processes of their own; the databases are closed after.
 */
export async function provisionProcessIdentities(
  dbs: Array<{ region: string; db: Db }>,
): Promise<{ demo: ProvisionedIdentity; admin: ProvisionedIdentity }> {
  try {
    const demo = await provisionIdentity(dbs, SYSTEM_CLOCK, {
      account: 'demo',
      user: 'demo',
      isAdmin: false,
      agency: 'ferry_copy',
    });
    const admin = await provisionIdentity(dbs, SYSTEM_CLOCK, {
      account: 'admin',
      user: 'admin',
      isAdmin: true,
    });
    return { demo, admin };
  } finally {
    await Promise.all(dbs.map(({ db }) => db.destroy()));
  }
}

export interface RegionProcessOptions {
  /**
   * The catalog `region` reads, made from the deployment's before any region starts (default: that one). A
   * region given another one reads it from a file of its own; e.g. a test that points one region's view of
   * another's endpoint at a proxy, so that only that region's calls pass through it.
   */
  catalogOf?: (region: string, catalog: RegionCatalog) => RegionCatalog | Promise<RegionCatalog>;
}

/**
 * Starts `names`, each with `settings` (or `settings(region)`, its own) as its `--settings` file; the
 * catalog's endpoints are https when the first region's settings give a certificate.
 */
export async function startRegionProcesses(
  t: TestContext,
  names: string[],
  settings: DeploymentSettings | ((region: string) => DeploymentSettings) = {},
  options: RegionProcessOptions = {},
): Promise<RegionProcesses> {
  const settingsOf = typeof settings === 'function' ? settings : () => settings;
  const children = new Map<string, ChildProcess>();
  // Hooks run in the order they are added: the processes must stop before their folder is removed.
  t.after(async () => {
    await Promise.all([...children.keys()].map((name) => kill(name, 'SIGKILL')));
  });
  const dataDir = await makeTempDir(t);
  const database = stackDialect() === 'postgres' ? await testPostgresSchemas(t) : undefined;
  const storage = stackStorage(t);
  const pinned = (name: string) => settingsOf(name).storage?.blobStore !== undefined;
  const withStack = (name: string): DeploymentSettings => {
    const own = settingsOf(name);
    return pinned(name) ? own : { ...own, storage: { ...storage, ...own.storage } };
  };
  const ports: number[] = [];
  while (ports.length < names.length) ports.push(await freePort());
  const scheme = (settingsOf(names[0]!).tls?.certFile ?? null) !== null ? 'https' : 'http';
  const catalog = loopbackCatalog(names, ports, await ensureRegionCredentials(dataDir, names), scheme);
  const catalogFile = join(dataDir, 'catalog.json');
  const settingsFile = (name: string) => join(dataDir, `settings-${name}.json`);
  await writeFile(catalogFile, JSON.stringify(catalog));
  const catalogFiles = new Map<string, string>();
  for (const name of names) {
    const own = await options.catalogOf?.(name, structuredClone(catalog));
    if (own === undefined || JSON.stringify(own) === JSON.stringify(catalog)) continue;
    catalogFiles.set(name, join(dataDir, `catalog-${name}.json`));
    await writeFile(catalogFiles.get(name)!, JSON.stringify(own));
  }
  for (const name of names) {
    await writeFile(settingsFile(name), JSON.stringify(withStack(name)));
  }
  const databaseOf = new Map<string, DatabaseConfig>(
    names.map((name) => [
      name,
      (!pinned(name) && database?.(name)) || { kind: 'sqlite', file: join(dataDir, name, 'ferry.sqlite') },
    ]),
  );

  const dbs = [];
  for (const name of names) {
    await mkdir(join(dataDir, name), { recursive: true });
    dbs.push({ region: name, db: await openDatabase(databaseOf.get(name)!) });
  }
  const { demo, admin } = await provisionProcessIdentities(dbs);

  const start = async (name: string, flags: string[] = []) => {
    const log = createWriteStream(join(dataDir, `${name}.log`), { flags: 'a' });
    const child = spawn(
      process.execPath,
      ferryArgs(
        'serve',
        '--region',
        name,
        '--catalog',
        catalogFiles.get(name) ?? catalogFile,
        '--data',
        dataDir,
        '--settings',
        settingsFile(name),
        ...databaseFlags(databaseOf.get(name)!),
        ...flags,
      ),
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child.stdout!.pipe(log);
    children.set(name, child);
    let stderr = '';
    await new Promise<void>((resolve, reject) => {
      child.stderr!.setEncoding('utf8');
      child.stderr!.on('data', (text: string) => {
        stderr += text;
        log.write(text);
        if (stderr.includes('listening on')) resolve();
      });
      child.once('exit', (code) => reject(new Error(`region ${name} exited with ${code}: ${stderr}`)));
    });
  };
  const kill = async (name: string, signal: NodeJS.Signals) => {
    const child = children.get(name);
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill(signal);
    await exited;
  };
  for (const name of names) await start(name);
  return {
    dataDir,
    storage,
    catalogFile,
    demo,
    admin,
    url: (name) => catalog.regions.find((r) => r.name === name)!.endpoint,
    pid: (name) => children.get(name)!.pid!,
    kill,
    start,
    settingsFile,
  };
}

/** `ferry serve`'s flags for a database: none for the SQLite file under `--data`. */
function databaseFlags(database: DatabaseConfig): string[] {
  if (database.kind !== 'postgres') return [];
  return ['--database', database.url, ...(database.schema ? ['--database-schema', database.schema] : [])];
}
