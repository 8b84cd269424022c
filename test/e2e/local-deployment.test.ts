// The main job: the local multi-region deployment keeps its data, account and tokens across a restart;
// `ferry serve` runs one region of a catalog; `ferry admin bootstrap` creates the first administrator once.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createHash } from 'node:crypto';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { startLocal } from '../../src/deploy/local.js';
import { api, OCTET } from '../helpers/deployment.js';
import { makeTempDir } from '../helpers/tmp.js';
import { ferryArgs } from '../helpers/ferry-command.js';
import { ownStackSkip } from '../helpers/stack.js';

const run = promisify(execFile);
const CLI = ferryArgs();

test(
  'a restarted local deployment keeps its catalog, account, token and images',
  { skip: ownStackSkip() },
  async (t) => {
    const dataDir = await makeTempDir(t);
    const first = await startLocal({ dataDir, basePort: 0, regions: ['north-1', 'south-1'] });
    const token = first.demo.token;
    const url = first.regions[0]!.url;
    const image = (
      await api(url, token, 'POST', '/v2/images', {
        name: 'keep',
        disk_format: 'raw',
        container_format: 'bare',
      })
    ).body;
    const data = Buffer.alloc(3 * 1024 * 1024 + 5, 9);
    assert.equal((await api(url, token, 'PUT', `/v2/images/${image.id}/file`, data, OCTET)).status, 204);
    const catalog = await readFile(join(dataDir, 'catalog.json'), 'utf8');
    // Each region's credential in a file of its own, readable by its owner only; the servers' catalog lists
    // its hash, and no secret.
    const servers = JSON.parse(catalog);
    for (const region of servers.regions as Array<{ name: string; credential_sha256: string[] }>) {
      const file = join(dataDir, region.name, 'region-credential');
      assert.equal((await stat(file)).mode & 0o777, 0o600, file);
      const credential = (await readFile(file, 'utf8')).trim();
      assert.equal(Buffer.from(credential, 'base64url').length, 32, 'a random 32-byte credential');
      assert.deepEqual(region.credential_sha256, [createHash('sha256').update(credential).digest('hex')]);
      assert.ok(!catalog.includes(credential), 'the catalog does not hold the credential');
    }
    assert.equal((await stat(join(dataDir, 'catalog.json'))).mode & 0o777, 0o644, 'the catalog is no secret');
    // The clients' catalog: the same regions and endpoints, without the hashes.
    const clients = JSON.parse(await readFile(first.clientCatalogFile, 'utf8'));
    assert.equal(first.clientCatalogFile, join(dataDir, 'regions.json'));
    assert.deepEqual(
      clients,
      {
        regions: servers.regions.map((r: Record<string, string>, i: number) => ({
          name: r.name,
          display_name: r.display_name,
          endpoint: first.regions[i]!.url, // the ports the system chose (port 0 in catalog.json)
        })),
        replication_pairs: servers.replication_pairs,
      },
      'regions.json has no credential hash',
    );
    await first.close();

    const second = await startLocal({ dataDir, basePort: 0 });
    t.after(() => second.close());
    assert.deepEqual(
      second.regions.map((r) => r.name),
      ['north-1', 'south-1'],
      'regions come from the saved catalog',
    );
    assert.equal(await readFile(join(dataDir, 'catalog.json'), 'utf8'), catalog);
    assert.equal(second.demo.accountId, first.demo.accountId);
    assert.deepEqual(second.demo.projects, first.demo.projects);
    const url2 = second.regions[0]!.url;
    const shown = await api(url2, token, 'GET', `/v2/images/${image.id}`);
    assert.equal(shown.status, 200, 'the old token still works');
    assert.equal(shown.body.status, 'active');
    const download = await fetch(`${url2}/v2/images/${image.id}/file`, {
      headers: { 'x-auth-token': token },
    });
    assert.ok(Buffer.from(await download.arrayBuffer()).equals(data));
    const agencies = await api(second.regions[1]!.url, second.demo.token, 'GET', '/v1/agencies');
    assert.deepEqual(
      agencies.body.agencies[0].policies.map(
        (p: { region: string; policy: string }) => `${p.region}:${p.policy}`,
      ),
      [
        'north-1:CrossCopyAgencyCBRPolicy',
        'north-1:CrossCopyAgencyPolicy',
        'south-1:CrossCopyAgencyCBRPolicy',
        'south-1:CrossCopyAgencyPolicy',
      ],
      'the demo agency may replicate disk and whole-server images into every region',
    );
  },
);

test(
  'ferry serve runs one region of a catalog; admin bootstrap prints a working admin token once',
  { skip: ownStackSkip() },
  async (t) => {
    const dataDir = await makeTempDir(t);
    const catalogFile = join(dataDir, 'catalog.json');
    const local = await startLocal({ dataDir, basePort: 0, regions: ['north-1'] });
    await local.close();

    const bootstrap = await run(process.execPath, [
      ...CLI,
      'admin',
      'bootstrap',
      '--catalog',
      catalogFile,
      '--data',
      dataDir,
    ]);
    const adminToken = /Token \(shown once[^)]*\): (fry_\S+)/.exec(bootstrap.stdout)?.[1];
    assert.ok(adminToken, bootstrap.stdout);
    await assert.rejects(
      run(process.execPath, [...CLI, 'admin', 'bootstrap', '--catalog', catalogFile, '--data', dataDir]),
      /administrator exists already/,
    );

    const server = spawn(
      process.execPath,
      [...CLI, 'serve', '--region', 'north-1', '--catalog', catalogFile, '--data', dataDir, '--port', '0'],
      {
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    t.after(() => server.kill('SIGTERM'));
    let stderr = '';
    server.stderr.setEncoding('utf8');
    const url = await new Promise<string>((resolve, reject) => {
      server.stderr.on('data', (chunk: string) => {
        stderr += chunk;
        const match = /listening on (http:\/\/\S+)/.exec(stderr);
        if (match) resolve(match[1]!);
      });
      server.on('exit', () => reject(new Error(`serve exited: ${stderr}`)));
    });
    assert.equal((await api(url, undefined, 'GET', '/healthz')).body.region, 'north-1');
    const accounts = await api(url, adminToken, 'GET', '/v1/admin/accounts');
    assert.equal(accounts.status, 200);
    assert.deepEqual(accounts.body.accounts.map((a: { name: string }) => a.name).sort(), ['admin', 'demo']);
    const notAdmin = await api(url, local.demo.token, 'GET', '/v1/admin/accounts');
    assert.equal(notAdmin.status, 403);
    server.kill('SIGTERM');
    await once(server, 'exit');
  },
);

test(
  'a data folder whose catalog still holds the regions’ secrets is migrated at start: each secret to its region’s file',
  { skip: ownStackSkip() },
  async (t) => {
    const dataDir = await makeTempDir(t);
    const secrets = {
      'north-1': 'n'.repeat(20) + 'former-secret',
      'south-1': 's'.repeat(20) + 'former-secret',
    };
    await writeFile(
      join(dataDir, 'catalog.json'),
      JSON.stringify({
        regions: Object.entries(secrets).map(([name, secret]) => ({
          name,
          endpoint: 'http://127.0.0.1:0', // any free port
          internal_secret: secret,
        })),
        replication_pairs: [
          ['north-1', 'south-1'],
          ['south-1', 'north-1'],
        ],
      }),
    );
    const d = await startLocal({ dataDir, basePort: 0 });
    t.after(() => d.close());
    const catalog = await readFile(join(dataDir, 'catalog.json'), 'utf8');
    for (const [name, secret] of Object.entries(secrets)) {
      assert.ok(!catalog.includes(secret), 'the secret left the catalog');
      const file = join(dataDir, name, 'region-credential');
      assert.equal(await readFile(file, 'utf8'), `${secret}\n`);
      assert.equal((await stat(file)).mode & 0o777, 0o600);
      assert.deepEqual(
        JSON.parse(catalog).regions.find((r: { name: string }) => r.name === name).credential_sha256,
        [createHash('sha256').update(secret).digest('hex')],
      );
    }
    // The regions accept each other with the migrated credentials: a replication goes through.
    const url = d.regions[0]!.url;
    const data = Buffer.alloc(2 * 1024 * 1024 + 3, 7);
    const image = (
      await api(url, d.demo.token, 'POST', '/v2/images', {
        name: 'm',
        disk_format: 'raw',
        container_format: 'bare',
      })
    ).body;
    assert.equal(
      (await api(url, d.demo.token, 'PUT', `/v2/images/${image.id}/file`, data, OCTET)).status,
      204,
    );
    const started = await api(url, d.demo.token, 'POST', `/v1/cloudimages/${image.id}/cross_region_copy`, {
      region: 'south-1',
      agency_name: 'ferry_copy',
    });
    assert.equal(started.status, 200, JSON.stringify(started.body));
    let job = started.body;
    for (let i = 0; job.status !== 'SUCCESS'; i++) {
      assert.ok(i < 300 && job.status !== 'FAIL', JSON.stringify(job));
      await new Promise((resolve) => setTimeout(resolve, 100));
      job = (await api(url, d.demo.token, 'GET', `/v1/cloudimages/job/${started.body.job_id}`)).body;
    }
  },
);
