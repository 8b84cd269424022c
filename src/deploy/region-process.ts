/**
 * One region of `ferry local` in a process of its own, forked by the supervisor (supervisor.ts): it runs the
 * region its start message names (its HTTP server and every background task: replication worker, GC, scrub,
 * upload sweep) and stops when the supervisor asks (SIGTERM) or is gone (the IPC channel closes: the
 * supervisor was killed before it could stop its regions, which must not outlive it). SIGHUP makes it re-read
 * the catalog and its credential file at once (it also looks every `replication.trustCheckMs`).
 * @module
 */
import type { RegionCatalog } from '../config/catalog.js';
import { startRegion, type RunningRegion } from '../region/start-region.js';
import type { RegionMessage, StartRegionMessage, SupervisorMessage } from './region-messages.js';

/** How long closing may take (an upload in flight keeps the server open) before the process exits anyway. */
const CLOSE_DEADLINE_MS = 10_000;

let region: RunningRegion | undefined;
let catalog: RegionCatalog | undefined;
let stopping = false;

/** Resolves once the message is handed over, so that exiting next does not drop it. */
function send(message: RegionMessage): Promise<void> {
  return new Promise((resolve) => {
    // After the supervisor is gone there is nobody to tell (and `send` would fail).
    if (!process.connected) return resolve();
    process.send!(message, undefined, undefined, () => resolve());
  });
}

/** Closes the region (its database and servers) once, then exits. */
function stop(): void {
  if (stopping) return;
  stopping = true;
  setTimeout(() => {
    console.error(
      `ferry: region ${region?.name ?? ''} did not close within ${CLOSE_DEADLINE_MS} ms; exiting`,
    );
    process.exit(1);
  }, CLOSE_DEADLINE_MS).unref();
  (region?.close() ?? Promise.resolve()).then(
    () => process.exit(0),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}

async function run(message: StartRegionMessage): Promise<void> {
  catalog = message.catalog;
  try {
    region = await startRegion({
      // Every setting of the deployment that a region takes (limits, replication, ...), as in local.ts.
      ...message.options,
      name: message.name,
      catalog,
      catalogFile: message.catalogFile,
      port: message.port,
    });
  } catch (error) {
    const text = error instanceof Error ? error.message : String(error);
    if (process.connected) await send({ type: 'failed', message: text });
    else console.error(`ferry: region ${message.name} could not start: ${text}`);
    process.exit(1);
  }
  await send({ type: 'listening', url: region.url });
}

/** Points this region at the other regions' real endpoints (the region client reads the catalog per call). */
function updateEndpoints(update: RegionCatalog): void {
  for (const entry of (region?.ctx.catalog ?? catalog)?.regions ?? []) {
    const endpoint = update.regions.find((r) => r.name === entry.name)?.endpoint;
    if (endpoint !== undefined) entry.endpoint = endpoint;
  }
}

if (!process.send) {
  console.error('ferry: this module is a region process of `ferry local`, which starts it');
  process.exit(2);
}
// Ctrl-C in a terminal signals the whole process group. The supervisor stops every region itself (SIGTERM);
// a region that stopped on its own at the same moment would look to it like a region to restart.
process.on('SIGINT', () => {});
process.on('SIGTERM', stop);
process.on('SIGHUP', () => void region?.refreshTrust());
process.on('disconnect', stop);
process.on('message', (message: SupervisorMessage) => {
  if (message.type === 'start') void run(message);
  else updateEndpoints(message.catalog);
});
