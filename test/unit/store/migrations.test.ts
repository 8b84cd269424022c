// Several processes of one region start together over one database (issue 21): each runs the migrations,
// and they are applied once, whichever process gets there first; every process then finds the same schema.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import pg from 'pg';
import { openDatabase, type DatabaseConfig, type Db } from '../../../src/store/db.js';
import { dialects, testPostgresUrl } from '../../helpers/db.js';
import { makeTempDir } from '../../helpers/tmp.js';

for (const { name, skip } of dialects()) {
  describe(`migrations on ${name}`, { skip }, () => {
    test('five processes opening a new database at once apply each migration once', async (t) => {
      let config: DatabaseConfig;
      if (name === 'sqlite') {
        config = { kind: 'sqlite', file: join(await makeTempDir(t), 'ferry.sqlite') };
      } else {
        const url = testPostgresUrl()!;
        const schema = `t_${randomBytes(6).toString('hex')}`;
        config = { kind: 'postgres', url, schema, maxConnections: 2 };
        t.after(async () => {
          const client = new pg.Client({ connectionString: url });
          await client.connect();
          await client.query(`drop schema if exists ${schema} cascade`);
          await client.end();
        });
      }
      const opened: Db[] = [];
      t.after(() => Promise.all(opened.map((db) => db.destroy())));
      // Each open is what one process does at start: its own pool, then the migrations.
      const results = await Promise.allSettled(
        Array.from({ length: 5 }, async () => opened.push(await openDatabase(config))),
      );
      assert.deepEqual(
        results
          .filter((r) => r.status === 'rejected')
          .map((r) => String((r as PromiseRejectedResult).reason)),
        [],
      );
      const applied = await opened[0]!
        .selectFrom('kysely_migration' as never)
        .select('name' as never)
        .execute();
      const names = applied.map((row) => (row as { name: string }).name);
      assert.ok(names.length > 10);
      assert.equal(new Set(names).size, names.length, 'no migration recorded twice');
      for (const db of opened) {
        // Every process sees the whole schema (a table of the latest migrations).
        await db.selectFrom('identity_deliveries').select('id').limit(1).execute();
      }
    });
  });
}

describe('migrations on postgres beside other schemas', { skip: dialects()[1]!.skip }, () => {
  // Many regions (or test runs) share one PostgreSQL database, each in a schema of its own, and one may be
  // dropped while another region starts. Kysely's migrator reads the tables of every schema in the database,
  // and a schema dropped during that read failed the starting region with 3F000 naming the dropped schema.
  test('a region starts while other schemas of the same database are being dropped', async (t) => {
    const url = testPostgresUrl()!;
    const prefix = `t_${randomBytes(6).toString('hex')}`;
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    const others = Array.from({ length: 120 }, (_, i) => `${prefix}_other_${i}`);
    for (const schema of others) {
      await client.query(`create schema ${schema}; create table ${schema}.t (a int, b text, c text)`);
    }
    const mine = Array.from({ length: 6 }, (_, i) => `${prefix}_mine_${i}`);
    t.after(async () => {
      for (const schema of [...others, ...mine])
        await client.query(`drop schema if exists ${schema} cascade`);
      await client.end();
    });
    const dropping = (async () => {
      for (const schema of others) await client.query(`drop schema ${schema} cascade`);
    })();
    const opened: Db[] = [];
    t.after(() => Promise.all(opened.map((db) => db.destroy())));
    const results = await Promise.allSettled(
      mine.map(async (schema) =>
        opened.push(await openDatabase({ kind: 'postgres', url, schema, maxConnections: 2 })),
      ),
    );
    await dropping;
    assert.deepEqual(
      results.filter((r) => r.status === 'rejected').map((r) => String((r as PromiseRejectedResult).reason)),
      [],
    );
  });
});
