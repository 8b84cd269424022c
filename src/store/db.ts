/**
 * Opens the metadata database: an embedded SQLite file (the default: WAL journal, foreign keys on) or a
 * PostgreSQL server (for scale-out; optionally inside one schema, which tests use for isolation), and brings
 * its schema up to date.
 * @module
 */
import { setTimeout } from 'node:timers/promises';
import Database from 'better-sqlite3';
import {
  Kysely,
  Migrator,
  PostgresDialect,
  SqliteAdapter,
  SqliteDialect,
  sql,
  type Migration,
  type SqliteDatabase as SqliteDialectDatabase,
} from 'kysely';
import pg from 'pg';
import type { FerryDatabase } from './schema.js';
import * as init from './migrations/0001-init.js';
import * as replication from './migrations/0002-replication.js';
import * as deletedImages from './migrations/0003-deleted-images.js';
import * as uploadHeartbeats from './migrations/0004-upload-heartbeats.js';
import * as tokenParents from './migrations/0005-token-parents.js';
import * as accountChunks from './migrations/0006-account-chunks.js';
import * as jobProjects from './migrations/0007-job-projects.js';
import * as imageHashAlgorithm from './migrations/0008-image-hash-algorithm.js';
import * as imageListIndexes from './migrations/0009-image-list-indexes.js';
import * as clientRequests from './migrations/0010-client-requests.js';
import * as storageUsage from './migrations/0011-storage-usage.js';
import * as jobShareWith from './migrations/0012-job-share-with.js';
import * as events from './migrations/0013-events.js';
import * as vaults from './migrations/0014-vaults.js';
import * as requestEvents from './migrations/0015-request-events.js';
import * as identityDeliveries from './migrations/0016-identity-deliveries.js';
import * as requestIds from './migrations/0017-request-ids.js';
import { ownPrivateFile } from '../lib/private-files.js';

export type DatabaseConfig =
  | { kind: 'sqlite'; file: string }
  | { kind: 'postgres'; url: string; schema?: string; maxConnections?: number };

export type Db = Kysely<FerryDatabase>;

/** Every migration in order; a new one is appended, never edited once released. */
const MIGRATIONS: Record<string, Migration> = {
  '0001-init': init,
  '0002-replication': replication,
  '0003-deleted-images': deletedImages,
  '0004-upload-heartbeats': uploadHeartbeats,
  '0005-token-parents': tokenParents,
  '0006-account-chunks': accountChunks,
  '0007-job-projects': jobProjects,
  '0008-image-hash-algorithm': imageHashAlgorithm,
  '0009-image-list-indexes': imageListIndexes,
  '0010-client-requests': clientRequests,
  '0011-storage-usage': storageUsage,
  '0012-job-share-with': jobShareWith,
  '0013-events': events,
  '0014-vaults': vaults,
  '0015-request-events': requestEvents,
  '0016-identity-deliveries': identityDeliveries,
  '0017-request-ids': requestIds,
};

// PostgreSQL returns int8 as a string to avoid precision loss; Ferry's sizes stay far below 2^53.
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => Number(value));

export async function openDatabase(config: DatabaseConfig): Promise<Db> {
  if (config.kind === 'sqlite') {
    await ownPrivateFile(config.file);
    // SQLite's own write lock runs the processes' migrations one after the other.
    return migrated(openSqlite(config.file), config);
  }
  return whileMigrationsLocked(config, async () => migrated(await openPostgres(config), config));
}

/** `db` with every migration applied (destroyed if one fails). */
async function migrated(db: Db, config: DatabaseConfig): Promise<Db> {
  const migrator = new Migrator({
    db,
    provider: { getMigrations: async () => MIGRATIONS },
    // Kysely looks for its migration tables in every schema unless told which: a second region on the same
    // PostgreSQL server (its own schema) would find the first one's and never make its own.
    ...(config.kind === 'postgres' && config.schema ? { migrationTableSchema: config.schema } : {}),
  });
  for (let attempt = 1; ; attempt++) {
    const { error } = await migrator.migrateToLatest();
    if (!error) break;
    if (attempt < MIGRATION_ATTEMPTS && isOtherSchemaDropped(error, config)) {
      await setTimeout(50 * attempt);
      continue;
    }
    await db.destroy();
    throw error;
  }
  await optimizeDatabase(db);
  return db;
}

/** How many times the migrations are tried while other schemas of the database vanish under them. */
const MIGRATION_ATTEMPTS = 10;

/**
 * Whether the migrations failed only because another schema of the same PostgreSQL database was dropped
 * meanwhile: Kysely's migrator lists the tables of every schema (its introspector calls
 * `has_schema_privilege` and `pg_get_serial_sequence` on each name it has read), and a schema or table
 * dropped between the two answers 3F000 or 42P01 naming it. Regions that share a database, each in a schema,
 * start and go while others run; the failed step rolled back, so the migrations are run again.
 */
function isOtherSchemaDropped(error: unknown, config: DatabaseConfig): boolean {
  if (config.kind !== 'postgres') return false;
  const { code, message } = error as { code?: unknown; message?: unknown };
  const missing =
    code === '3F000'
      ? /^schema "([^"]+)" does not exist$/.exec(String(message))?.[1]
      : code === '42P01'
        ? /^relation "([^".]+)\.[^"]+" does not exist$/.exec(String(message))?.[1]
        : undefined;
  return missing !== undefined && missing !== (config.schema ?? 'public');
}

/**
 * Runs `open` (create the schema, migrate) holding a PostgreSQL advisory lock named after the schema, so the
 * processes of a region that start together do it one at a time: two `create schema if not exists` at once
 * fail on PostgreSQL's unique index, as do two creations of Kysely's migration tables. The lock belongs to a
 * session of its own, and ends with it.
 */
async function whileMigrationsLocked<T>(
  config: { url: string; schema?: string },
  open: () => Promise<T>,
): Promise<T> {
  const client = new pg.Client({ connectionString: config.url });
  await client.connect();
  try {
    await client.query('select pg_advisory_lock(hashtext($1))', [
      `ferry migrations ${config.schema ?? 'public'}`,
    ]);
    return await open();
  } finally {
    await client.end();
  }
}

/** Whether `db` is the embedded SQLite database (else PostgreSQL), for the few queries that differ. */
export function isSqlite(db: Db): boolean {
  return db.getExecutor().adapter instanceof SqliteAdapter;
}

/**
 * Refreshes the query planner's statistics where they are stale. SQLite keeps none unless asked: without
 * them, a list filtered by name at 100,000 images took 33-85 ms (p50) instead of 2-8 ms, and the planner
 * chose the wrong index for shared images (bench/listing.ts). `PRAGMA optimize` with 0x10000 analyzes the
 * tables that need it (cheap when nothing changed much); SQLite asks long-lived connections to run it at
 * open and every few hours, which the region does with its periodic garbage collection. PostgreSQL's
 * autovacuum keeps its statistics itself.
 */
export async function optimizeDatabase(db: Db): Promise<void> {
  if (isSqlite(db)) await sql`pragma optimize=0x10002`.execute(db);
}

function openSqlite(file: string): Db {
  const database = new Database(file);
  database.pragma('journal_mode = WAL');
  database.pragma('foreign_keys = ON');
  // Concurrent writers in one process queue behind each other instead of failing at once.
  database.pragma('busy_timeout = 5000');
  database.pragma('synchronous = NORMAL');
  return new Kysely<FerryDatabase>({ dialect: new SqliteDialect({ database: keepingStatements(database) }) });
}

/** Prepared statements kept per connection; the least recently used beyond this are let go. */
const KEPT_STATEMENTS = 256;

/**
 * The connection as Kysely's SQLite driver uses it, with each SQL text's prepared statement kept and reused:
 * the driver prepares every query anew, and compiling the SQL cost a replication's source region ~35 ms of
 * its main thread per GiB (`--cpu-prof`: better-sqlite3's `prepare`), as much as running the queries. A
 * statement still stepping through rows (`iterate`) is busy, and then a fresh one is prepared.
 */
function keepingStatements(database: Database.Database): SqliteDialectDatabase {
  const statements = new Map<string, Database.Statement>();
  return {
    close: () => database.close(),
    prepare(sqlText: string) {
      const kept = statements.get(sqlText);
      if (kept !== undefined && !kept.busy) {
        statements.delete(sqlText); // re-inserted: most recently used last
        statements.set(sqlText, kept);
        return kept;
      }
      const statement = database.prepare(sqlText);
      if (kept === undefined) {
        if (statements.size >= KEPT_STATEMENTS) statements.delete(statements.keys().next().value!);
        statements.set(sqlText, statement);
      }
      return statement;
    },
  };
}

async function openPostgres(config: { url: string; schema?: string; maxConnections?: number }): Promise<Db> {
  if (config.schema !== undefined) {
    if (!/^[a-z_][a-z0-9_]*$/.test(config.schema)) throw new Error(`invalid schema name: ${config.schema}`);
    const client = new pg.Client({ connectionString: config.url });
    await client.connect();
    try {
      await client.query(`create schema if not exists ${config.schema}`);
    } finally {
      await client.end();
    }
  }
  const pool = new pg.Pool({
    connectionString: config.url,
    max: config.maxConnections ?? 10,
    ...(config.schema !== undefined ? { options: `-c search_path=${config.schema}` } : {}),
  });
  return new Kysely<FerryDatabase>({ dialect: new PostgresDialect({ pool }) });
}
