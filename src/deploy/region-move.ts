/**
 * Moves an embedded region (its SQLite file and blob folder under `<data>/<region>/`) to PostgreSQL and, if
 * the target storage says so, an S3 bucket: the step from one machine to a scale-out region (docs/deploy.md).
 *
 * The region must be stopped: opening its blob folder takes the folder's lock, which a running region holds.
 * Blobs go first, each checked against the digest its key names and skipped where the bucket has it already,
 * so an interrupted move is run again and goes on where it stopped. The rows go last, in one transaction
 * and in the order the tables were made (their foreign keys point backwards), into a database that must hold
 * no region data yet; the counts of every table are compared before it commits. Nothing of the embedded
 * region is changed or removed: it stays as it was, to go back to or to delete by hand.
 * @module
 */
import path from 'node:path';
import { sql, type Kysely, type Transaction } from 'kysely';
import type { BlobDriver } from '../blobs/driver.js';
import { sha256Digest } from '../blobs/chunk-store.js';
import { parseKey } from '../blobs/layout.js';
import { DEFAULT_STORAGE_SETTINGS, type StorageSettings } from '../config/storage.js';
import { FerryError } from '../domain/errors.js';
import { openBlobStore } from '../region/start-region.js';
import { openDatabase, type DatabaseConfig, type Db } from '../store/db.js';
import type { FerryDatabase } from '../store/schema.js';

export interface RegionMoveOptions {
  dataDir: string;
  region: string;
  /** The PostgreSQL database (and schema) the region's rows go to. */
  database: Extract<DatabaseConfig, { kind: 'postgres' }>;
  /** The region's storage settings from now on: `blobStore` `s3` moves the blobs, `fs` leaves them. */
  storage: Partial<StorageSettings>;
  onProgress?: (progress: RegionMoveProgress) => void;
}

export interface RegionMoveProgress {
  phase: 'blobs' | 'rows';
  done: number;
  total: number;
}

export interface RegionMoveReport {
  blobs: { copied: number; present: number; bytes: number; moved: boolean };
  /** Rows copied, by table, in the order they were copied. */
  rows: Array<{ table: string; rows: number }>;
}

/** Blobs read and written at once (each up to a chunk, 1 MiB, or a manifest). */
const BLOB_PARALLELISM = 16;
/** Rows per INSERT: the widest table has about 50 columns, and PostgreSQL takes at most 65,535 parameters. */
const ROWS_PER_INSERT = 500;
/** Rows read from SQLite at a time. */
const ROWS_PER_READ = 5_000;

export async function moveRegion(options: RegionMoveOptions): Promise<RegionMoveReport> {
  const regionDir = path.join(options.dataDir, options.region);
  const sqliteFile = path.join(regionDir, 'ferry.sqlite');
  const target = { ...DEFAULT_STORAGE_SETTINGS, ...options.storage };
  // The folder's lock first: a running region must not change what is being copied.
  const sourceBlobs = await openBlobStore(options.region, regionDir, DEFAULT_STORAGE_SETTINGS);
  const opened: Array<() => Promise<unknown>> = [async () => sourceBlobs.close?.()];
  try {
    const source = await openDatabase({ kind: 'sqlite', file: sqliteFile });
    opened.push(() => source.destroy());
    const destination = await openDatabase(options.database);
    opened.push(() => destination.destroy());
    const tables = await tablesInOrder(source);
    await assertEmpty(destination, tables);

    let blobs: RegionMoveReport['blobs'] = { copied: 0, present: 0, bytes: 0, moved: false };
    if (target.blobStore === 's3') {
      const targetBlobs = await openBlobStore(options.region, regionDir, target);
      opened.push(async () => targetBlobs.close?.());
      blobs = { ...(await copyBlobs(sourceBlobs, targetBlobs, options.onProgress)), moved: true };
    }
    const rows = await copyRows(source, destination, tables, options.onProgress);
    return { blobs, rows };
  } finally {
    for (const close of opened.reverse()) await close();
  }
}

/** The region's tables in the order they were made (SQLite keeps its catalog in that order). */
async function tablesInOrder(db: Db): Promise<string[]> {
  const { rows } = await sql<{ name: string }>`
    select name from sqlite_master
    where type = 'table' and name not like 'sqlite_%' and name not like 'kysely_%'
    order by rowid`.execute(db);
  return rows.map((row) => row.name);
}

async function countRows(db: Db, table: string): Promise<number> {
  const { rows } = await sql<{ n: number | string }>`select count(*) as n from ${sql.table(table)}`.execute(
    db,
  );
  return Number(rows[0]!.n);
}

async function assertEmpty(db: Db, tables: string[]): Promise<void> {
  for (const table of tables) {
    const rows = await countRows(db, table);
    if (rows > 0) {
      throw new FerryError(
        'CONFLICT',
        `The target database already holds region data (${rows} rows in ${table}): give a new database or schema.`,
      );
    }
  }
}

async function copyBlobs(
  source: BlobDriver,
  target: BlobDriver,
  onProgress?: (progress: RegionMoveProgress) => void,
): Promise<Omit<RegionMoveReport['blobs'], 'moved'>> {
  const keys: string[] = [];
  for await (const key of source.list('')) if (parseKey(key) !== undefined) keys.push(key);
  const result = { copied: 0, present: 0, bytes: 0 };
  let next = 0;
  const worker = async () => {
    while (next < keys.length) {
      const key = keys[next++]!;
      if (await target.has(key)) {
        result.present += 1;
      } else {
        const data = await source.get(key);
        // Every key names the SHA-256 of its bytes: a damaged blob is not carried over as if it were whole.
        if (sha256Digest(data) !== parseKey(key)!.digest) {
          throw new FerryError(
            'INTERNAL_ERROR',
            `The blob ${key} does not match its digest: run \`ferry admin storage scrub\` on the region first.`,
          );
        }
        await target.put(key, data);
        result.copied += 1;
        result.bytes += data.length;
      }
      onProgress?.({ phase: 'blobs', done: result.copied + result.present, total: keys.length });
    }
  };
  await Promise.all(Array.from({ length: BLOB_PARALLELISM }, worker));
  await target.flush();
  return result;
}

/** The database as tables of any columns: rows are copied as SQLite gives them, table by table. */
function untyped(db: Transaction<FerryDatabase>): Kysely<Record<string, Record<string, unknown>>> {
  return db as unknown as Kysely<Record<string, Record<string, unknown>>>;
}

async function copyRows(
  source: Db,
  destination: Db,
  tables: string[],
  onProgress?: (progress: RegionMoveProgress) => void,
): Promise<RegionMoveReport['rows']> {
  const counts = new Map<string, number>();
  for (const table of tables) counts.set(table, await countRows(source, table));
  const total = [...counts.values()].reduce((sum, n) => sum + n, 0);
  let done = 0;
  await destination.transaction().execute(async (trx) => {
    for (const table of tables) {
      let after = 0;
      for (;;) {
        // rowid pages: a table of millions of rows (account_chunks) never sits in memory whole.
        const { rows } = await sql<Record<string, unknown>>`
          select rowid as ferry_rowid, * from ${sql.table(table)}
          where rowid > ${after} order by rowid limit ${ROWS_PER_READ}`.execute(source);
        if (rows.length === 0) break;
        after = Number(rows[rows.length - 1]!.ferry_rowid);
        const values = rows.map(({ ferry_rowid: _, ...row }) => row);
        for (let i = 0; i < values.length; i += ROWS_PER_INSERT) {
          await untyped(trx)
            .insertInto(table)
            .values(values.slice(i, i + ROWS_PER_INSERT))
            .execute();
        }
        done += rows.length;
        onProgress?.({ phase: 'rows', done, total });
      }
      const copied = await countRows(trx as unknown as Db, table);
      if (copied !== counts.get(table)) {
        throw new FerryError(
          'INTERNAL_ERROR',
          `${table}: ${counts.get(table)} rows in SQLite, ${copied} in PostgreSQL; nothing was committed.`,
        );
      }
    }
  });
  return tables.map((table) => ({ table, rows: counts.get(table)! }));
}
