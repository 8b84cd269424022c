/**
 * Per-test metadata databases on both dialects: a SQLite file in a temp dir, and a PostgreSQL schema of its
 * own on the server named by FERRY_TEST_PG (dropped after the test). In CI PostgreSQL is required; outside CI
 * the PostgreSQL cases are skipped with a loud warning when FERRY_TEST_PG is unset.
 * @module
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import pg from 'pg';
import { openDatabase, type DatabaseConfig, type Db } from '../../src/store/db.js';
import { makeTempDir } from './tmp.js';

export type DialectName = 'sqlite' | 'postgres';

let warned = false;

/** The PostgreSQL URL for tests, or undefined (outside CI only) to skip PostgreSQL. */
export function testPostgresUrl(): string | undefined {
  const url = process.env.FERRY_TEST_PG;
  if (url) return url;
  if (process.env.CI) throw new Error('CI must run the PostgreSQL tests: set FERRY_TEST_PG (see .ci/run).');
  if (!warned) {
    warned = true;
    console.warn(
      '\n*** FERRY_TEST_PG is not set: the PostgreSQL cases are SKIPPED. Run scripts/start-test-postgres.sh ***\n',
    );
  }
  return undefined;
}

/**
 * The dialects to run a store test on, each with a reason when skipped. In the end-to-end stages on
 * PostgreSQL (FERRY_TEST_STACK set: scripts/test-all.sh) the SQLite case is skipped: the embedded stage runs it.
 */
export function dialects(): Array<{ name: DialectName; skip: string | false }> {
  const stack = process.env.FERRY_TEST_STACK;
  return [
    {
      name: 'sqlite',
      skip:
        stack && stack !== 'embedded' ? `FERRY_TEST_STACK=${stack}: the embedded stage runs SQLite` : false,
    },
    { name: 'postgres', skip: testPostgresUrl() ? false : 'FERRY_TEST_PG is unset (outside CI)' },
  ];
}

export async function openTestDb(t: TestContext, dialect: DialectName): Promise<Db> {
  if (dialect === 'sqlite') {
    const opened: Db[] = [];
    t.after(() => opened.pop()?.destroy()); // before the folder's removal: hooks run in the order added
    const dir = await makeTempDir(t);
    opened.push(await openDatabase({ kind: 'sqlite', file: join(dir, 'ferry.sqlite') }));
    return opened[0]!;
  }
  const url = testPostgresUrl()!;
  const schema = `t_${randomBytes(6).toString('hex')}`;
  const db = await openDatabase({ kind: 'postgres', url, schema, maxConnections: 4 });
  t.after(async () => {
    await db.destroy();
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    await client.query(`drop schema ${schema} cascade`);
    await client.end();
  });
  return db;
}

/**
 * Each region's database as a PostgreSQL schema of its own on FERRY_TEST_PG, dropped after the test (after
 * the regions have stopped: call it after adding the hook that stops them).
 */
export async function testPostgresSchemas(t: TestContext): Promise<(region: string) => DatabaseConfig> {
  const url = testPostgresUrl();
  if (!url) throw new Error('FERRY_TEST_PG is unset: run this PostgreSQL case with it set.');
  const prefix = `t_${randomBytes(6).toString('hex')}`;
  const schemas: string[] = [];
  t.after(async () => {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    for (const schema of schemas) await client.query(`drop schema if exists ${schema} cascade`);
    await client.end();
  });
  return (region) => {
    const schema = `${prefix}_${region.replace(/-/g, '_')}`;
    schemas.push(schema);
    return { kind: 'postgres', url, schema, maxConnections: 8 };
  };
}
