/**
 * The messages the supervisor of `ferry local` (supervisor.ts) and its region processes (region-process.ts)
 * exchange over the IPC channel of `child_process.fork`: the deployment's options (settings, catalog) as
 * structured values rather than flags on a command line.
 * @module
 */
import type { RegionCatalog } from '../config/catalog.js';
import type { LocalOptions } from './local.js';

/** Supervisor → region: the region to run. Sent once, right after the fork. */
export interface StartRegionMessage {
  type: 'start';
  name: string;
  catalog: RegionCatalog;
  /** The file the catalog is read from, and re-read when it changes. */
  catalogFile: string;
  /** 0 = any free port (the first start of a deployment on port 0). */
  port: number;
  /**
   * The deployment's options, each region's settings among them (limits, replication, ...); not `database`,
   * a function, which a message cannot carry (region processes use their SQLite file).
   */
  options: Omit<LocalOptions, 'database'>;
}

/** Supervisor → region: the catalog with every region's real endpoint, once ports chosen by the system are known. */
export interface CatalogMessage {
  type: 'catalog';
  catalog: RegionCatalog;
}

export type SupervisorMessage = StartRegionMessage | CatalogMessage;

/** Region → supervisor: the region listens (its URL has the port it got). */
export interface ListeningMessage {
  type: 'listening';
  url: string;
}

/** Region → supervisor: the region could not start (the process then exits with code 1). */
export interface StartFailedMessage {
  type: 'failed';
  message: string;
}

export type RegionMessage = ListeningMessage | StartFailedMessage;
