/**
 * `ferry local`: the demo deployment with each region in an OS process of its own, supervised by the process
 * that runs this. The supervisor does the one-time work (catalog files, demo account, token) and then only
 * watches: each region's HTTP server and background tasks run in its process (region-process.ts), so a region
 * that crashes or is killed takes no other region with it, and one region's work never waits on another's
 * event loop. A region process that ends is started again on the same port with a backoff
 * (restart-policy.ts); `close` stops them all, and they stop by themselves if the supervisor is killed.
 * @module
 */
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { makePrivateDir, ownPrivateDir } from '../lib/private-files.js';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RegionCatalog } from '../config/catalog.js';
import type { ProvisionedIdentity, RegionDb } from '../identity/provision.js';
import { openDatabase } from '../store/db.js';
import { DEMO_BASE_PORT, DEMO_REGIONS } from './demo.js';
import {
  clientCatalogFile as clientCatalogPath,
  loadOrWriteCatalog,
  provisionDemo,
  regionDatabaseFile,
  serverCatalogFile,
  writeClientCatalog,
} from './local-data.js';
import { localScheme, type LocalOptions } from './local.js';
import type { RegionMessage, SupervisorMessage } from './region-messages.js';
import { decideRestart, DEFAULT_RESTART_POLICY, type RestartPolicy } from './restart-policy.js';

/** The region processes' module, beside this one (`.js` in the build, `.ts` when run from the sources). */
const here = fileURLToPath(import.meta.url);
const REGION_PROCESS_MODULE = path.join(path.dirname(here), `region-process${path.extname(here)}`);

/**
 * How long a region process may take to close once asked before it is killed; longer than its own deadline
 * (10 s, region-process.ts), so it is killed only when it hangs.
 */
const STOP_DEADLINE_MS = 15_000;

/** How the supervisor treats its regions (the deployment itself is described by `LocalOptions`). */
export interface SupervisionOptions {
  restartPolicy?: Partial<RestartPolicy>;
  /** Where the supervisor says what happens to its regions (default: stderr, after `ferry: `). */
  notify?: (line: string) => void;
}

/** A region of the deployment, as the supervisor sees it. */
export interface SupervisedRegion {
  readonly name: string;
  /** Where it listens: the same across restarts. */
  readonly url: string;
  /** Its current process; undefined while it is being restarted or after the supervisor gave up on it. */
  readonly pid: number | undefined;
}

export interface SupervisedDeployment {
  catalog: RegionCatalog;
  /** The servers' catalog, with the regions' credential hashes; each region re-reads it when it changes. */
  catalogFile: string;
  /** The same catalog without the hashes, for the CLI and other clients (`regions.json`). */
  clientCatalogFile: string;
  regions: readonly SupervisedRegion[];
  demo: ProvisionedIdentity;
  /** Resolves if the supervisor gives up on every region (each failed too often at start): nothing runs. */
  allGaveUp: Promise<void>;
  /** Stops every region process (each closes its database and servers); once, however often it is called. */
  close(): Promise<void>;
}

interface RegionState {
  name: string;
  /** 0 until its first process listened on a port the system chose. */
  port: number;
  url: string;
  pid: number | undefined;
  child: ChildProcess | undefined;
  startedAt: number;
  /** Quick failures in a row (restart-policy.ts). */
  quickFailures: number;
  restartTimer: NodeJS.Timeout | undefined;
  gaveUp: boolean;
}

function describeExit(code: number | null, signal: NodeJS.Signals | null): string {
  return signal !== null ? `was killed by ${signal}` : `exited with code ${code}`;
}

function hasExited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

/** Asks a region process to close (SIGTERM) and waits for it to end; kills it if it hangs. */
async function stopProcess(child: ChildProcess): Promise<void> {
  if (hasExited(child)) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const deadline = setTimeout(() => child.kill('SIGKILL'), STOP_DEADLINE_MS);
  await exited;
  clearTimeout(deadline);
}

/** Opens every region's database (creating and migrating it), provisions the demo account, closes them. */
async function provisionRegions(dataDir: string, catalog: RegionCatalog): Promise<ProvisionedIdentity> {
  const dbs: RegionDb[] = [];
  try {
    for (const { name } of catalog.regions) {
      await ownPrivateDir(path.join(dataDir, name));
      dbs.push({
        region: name,
        db: await openDatabase({ kind: 'sqlite', file: regionDatabaseFile(dataDir, name) }),
      });
    }
    return await provisionDemo(dbs);
  } finally {
    await Promise.all(dbs.map(({ db }) => db.destroy()));
  }
}

export async function superviseLocal(
  options: LocalOptions,
  supervision: SupervisionOptions = {},
): Promise<SupervisedDeployment> {
  const policy = { ...DEFAULT_RESTART_POLICY, ...supervision.restartPolicy };
  const notify = supervision.notify ?? ((line: string) => process.stderr.write(`ferry: ${line}\n`));
  await makePrivateDir(options.dataDir);
  const catalogFile = serverCatalogFile(options.dataDir);
  const basePort = options.basePort ?? DEMO_BASE_PORT;
  const catalog = await loadOrWriteCatalog(
    options.dataDir,
    options.regions ?? DEMO_REGIONS,
    basePort,
    localScheme(options),
  );
  // Before any region process runs, so nothing else writes to the databases meanwhile.
  const demo = await provisionRegions(options.dataDir, catalog);

  const regions: RegionState[] = catalog.regions.map((region) => ({
    name: region.name,
    port: basePort === 0 ? 0 : Number(new URL(region.endpoint).port),
    url: region.endpoint,
    pid: undefined,
    child: undefined,
    startedAt: 0,
    quickFailures: 0,
    restartTimer: undefined,
    gaveUp: false,
  }));
  let started = false;
  let stopping = false;
  let resolveAllGaveUp!: () => void;
  const allGaveUp = new Promise<void>((resolve) => (resolveAllGaveUp = resolve));

  /** Forks the region's process and resolves its URL once it listens; rejects if it fails to start. */
  function launch(region: RegionState): Promise<string> {
    // The region's name as an argument shows in `ps`; the start message is what the process runs.
    const child = fork(REGION_PROCESS_MODULE, [region.name], {
      // Its logs go where the supervisor's go; stdin stays with the supervisor (Ctrl-C is a signal anyway).
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      execArgv: process.execArgv, // the supervisor's own flags (a profiler, a loader)
    });
    region.child = child;
    region.pid = child.pid;
    region.startedAt = Date.now();
    child.on('exit', (code, signal) => onExit(region, child, code, signal));
    child.on('error', (error) => notify(`region ${region.name}: ${error.message}`));
    const message: SupervisorMessage = {
      type: 'start',
      name: region.name,
      // The region reads catalogFile itself (a restarted one must see a rotation since); from this one it
      // takes only the endpoints the system chose (port 0 in the file).
      catalog,
      catalogFile,
      port: region.port,
      options,
    };
    child.send(message);
    return new Promise<string>((resolve, reject) => {
      child.on('message', (reply: RegionMessage) => {
        if (reply.type === 'listening') resolve(reply.url);
        else reject(new Error(reply.message));
      });
      child.once('exit', (code, signal) =>
        reject(new Error(`region ${region.name} ${describeExit(code, signal)} before it listened`)),
      );
    });
  }

  function onExit(
    region: RegionState,
    child: ChildProcess,
    code: number | null,
    signal: NodeJS.Signals | null,
  ): void {
    if (region.child !== child) return;
    region.child = undefined;
    region.pid = undefined;
    // While stopping, every exit is expected; before every region has started, the start fails instead.
    if (stopping || !started) return;
    const decision = decideRestart(policy, region.quickFailures, Date.now() - region.startedAt);
    region.quickFailures = decision.quickFailures;
    const what = `region ${region.name} (pid ${child.pid}) ${describeExit(code, signal)}`;
    if (!decision.restart) {
      region.gaveUp = true;
      notify(
        `${what}; it ended within ${policy.quickFailureMs / 1000} s of starting ${decision.quickFailures} ` +
          `times in a row: not restarting it`,
      );
      if (regions.every((r) => r.gaveUp)) resolveAllGaveUp();
      return;
    }
    notify(`${what}; restarting it${decision.delayMs > 0 ? ` in ${decision.delayMs} ms` : ''}`);
    region.restartTimer = setTimeout(() => void restart(region), decision.delayMs);
  }

  async function restart(region: RegionState): Promise<void> {
    region.restartTimer = undefined;
    if (stopping) return;
    try {
      const url = await launch(region);
      notify(`region ${region.name} restarted (pid ${region.pid}) on ${url}`);
    } catch (error) {
      // Its exit (which follows) decides whether to try again.
      if (!stopping) notify(`region ${region.name} could not start: ${(error as Error).message}`);
    }
  }

  let closed: Promise<void> | undefined;
  function close(): Promise<void> {
    closed ??= (async () => {
      stopping = true;
      for (const region of regions) clearTimeout(region.restartTimer);
      await Promise.all(regions.map((r) => (r.child ? stopProcess(r.child) : undefined)));
    })();
    return closed;
  }

  try {
    // In parallel: each region opens its own database and blob store.
    const urls = await Promise.all(regions.map(launch));
    const ended = regions.find((r) => r.child === undefined);
    if (ended) throw new Error(`region ${ended.name} ended while the others were starting`);
    regions.forEach((region, i) => {
      region.url = urls[i]!;
      region.port = Number(new URL(region.url).port);
    });
    if (basePort === 0) {
      // Ports were chosen by the system: tell every region where the others really are.
      for (const entry of catalog.regions) entry.endpoint = regions.find((r) => r.name === entry.name)!.url;
      const update: SupervisorMessage = { type: 'catalog', catalog };
      for (const region of regions) region.child?.send(update);
    }
    const clientCatalogFile = clientCatalogPath(options.dataDir);
    await writeClientCatalog(clientCatalogFile, catalog);
    started = true;
    return { catalog, catalogFile, clientCatalogFile, regions, demo, allGaveUp, close };
  } catch (error) {
    await close();
    throw error;
  }
}
