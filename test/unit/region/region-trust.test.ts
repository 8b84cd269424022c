// A region's trust kept current: the catalog and credential files re-read when they change, a new
// credential used only once the catalog lists it, a bad catalog not taken, ports chosen at start kept.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { loopbackCatalog, type RegionCatalog } from '../../../src/config/catalog.js';
import {
  addCredentialHash,
  keepOnlyCredentialHash,
  readCatalogJson,
  writeCatalogJson,
} from '../../../src/config/catalog-file.js';
import {
  credentialSha256,
  newCredential,
  readCredential,
  writeCredential,
} from '../../../src/config/region-credential.js';
import { openRegionTrust, type TrustLog } from '../../../src/region/region-trust.js';
import { makeTempDir } from '../../helpers/tmp.js';

interface Setup {
  catalogFile: string;
  credentialFile: string;
  catalog: RegionCatalog;
  first: string;
  log: TrustLog & { lines: string[] };
}

async function setup(t: TestContext, ports = [9301, 9302]): Promise<Setup> {
  const dir = await makeTempDir(t);
  const credentialFile = join(dir, 'north-1', 'region-credential');
  const first = newCredential();
  await writeCredential(credentialFile, first);
  const catalog = loopbackCatalog(['north-1', 'south-1'], ports, (r) =>
    r === 'north-1' ? [credentialSha256(first)] : [credentialSha256('s'.repeat(32))],
  );
  const catalogFile = join(dir, 'catalog.json');
  await writeFile(catalogFile, JSON.stringify(catalog));
  const lines: string[] = [];
  const log = {
    lines,
    info: (m: string) => lines.push(`info: ${m}`),
    error: (m: string) => lines.push(`error: ${m}`),
  };
  return { catalogFile, credentialFile, catalog, first, log };
}

test('a rotation: the new credential is used once the catalog lists it, whichever file changes first', async (t) => {
  const s = await setup(t);
  const trust = await openRegionTrust({ region: 'north-1', ...s });
  assert.equal(trust.credential(), s.first);
  assert.equal(await trust.refresh(s.log), false, 'nothing changed');

  // The file first (the wrong order): the region keeps presenting the credential the others accept.
  const next = newCredential();
  await writeCredential(s.credentialFile, next);
  assert.equal(await trust.refresh(s.log), false);
  assert.equal(trust.credential(), s.first);
  assert.match(
    s.log.lines.at(-1)!,
    /^error: .*not listed for it in the catalog yet; the previous one is kept/,
  );

  // Then the catalog: now the new one is used.
  const json = await readCatalogJson(s.catalogFile);
  addCredentialHash(json, 'north-1', credentialSha256(next));
  await writeCatalogJson(s.catalogFile, json);
  assert.equal(await trust.refresh(s.log), true);
  assert.equal(trust.credential(), next);
  assert.deepEqual(trust.catalog().regions[0]!.credential_sha256, [
    credentialSha256(s.first),
    credentialSha256(next),
  ]);

  // Step (c): the old hash goes; nothing to say, the credential in use is listed.
  const lines = s.log.lines.length;
  keepOnlyCredentialHash(json, 'north-1', credentialSha256(next));
  await writeCatalogJson(s.catalogFile, json);
  assert.equal(await trust.refresh(s.log), true);
  assert.deepEqual(trust.catalog().regions[0]!.credential_sha256, [credentialSha256(next)]);
  assert.ok(
    s.log.lines.slice(lines).every((l) => l.startsWith('info: ')),
    s.log.lines.join('\n'),
  );
});

test('a catalog that does not parse, or drops the region, is not taken; a broken credential file neither', async (t) => {
  const s = await setup(t);
  const trust = await openRegionTrust({ region: 'north-1', ...s });
  const before = trust.catalog();
  await writeFile(s.catalogFile, '{ not json');
  assert.equal(await trust.refresh(s.log), false);
  assert.equal(trust.catalog(), before);
  assert.match(
    s.log.lines.at(-1)!,
    /^error: region north-1: catalog .* not taken, the previous one is kept: .*not valid JSON/,
  );
  await writeFile(
    s.catalogFile,
    JSON.stringify({ regions: [{ name: 'south-1', endpoint: 'http://127.0.0.1:1' }] }),
  );
  assert.equal(await trust.refresh(s.log), false);
  assert.match(s.log.lines.at(-1)!, /it does not name region north-1/);
  assert.equal(trust.catalog(), before);

  await writeFile(s.credentialFile, 'short\n', { mode: 0o600 });
  assert.equal(await trust.refresh(s.log), false);
  assert.equal(trust.credential(), s.first);
  assert.match(s.log.lines.at(-1)!, /^error: region north-1: credential file not taken/);
});

test('ports chosen at start stay: port 0 in the file keeps the endpoint the region was told', async (t) => {
  const s = await setup(t, [0, 0]);
  const trust = await openRegionTrust({ region: 'north-1', ...s });
  for (const entry of trust.catalog().regions)
    entry.endpoint = `http://127.0.0.1:${entry.name === 'north-1' ? 4001 : 4002}`;
  const json = await readCatalogJson(s.catalogFile);
  json.regions[1]!.endpoint = 'http://127.0.0.1:5002'; // a real port in the file wins
  await writeCatalogJson(s.catalogFile, json);
  assert.equal(await trust.refresh(s.log), true);
  assert.deepEqual(
    trust.catalog().regions.map((r) => r.endpoint),
    ['http://127.0.0.1:4001', 'http://127.0.0.1:5002'],
  );
});

test('start is refused when the catalog lists a credential the region cannot present', async (t) => {
  const s = await setup(t);
  await writeCredential(s.credentialFile, newCredential());
  await assert.rejects(
    openRegionTrust({ region: 'north-1', ...s }),
    /region north-1: the credential in .* is not one the catalog lists for it/,
  );
  await assert.rejects(
    openRegionTrust({ region: 'north-1', ...s, credentialFile: join(s.catalogFile, '..', 'none') }),
    /the catalog lists its credential \(credential_sha256\), but .*none does not exist/,
  );
  // A region the catalog lists no credential for takes no part, with or without a file.
  const json = await readCatalogJson(s.catalogFile);
  delete json.regions[0]!.credential_sha256;
  await writeCatalogJson(s.catalogFile, json);
  const alone = await openRegionTrust({ region: 'north-1', ...s });
  assert.equal(alone.credential(), undefined);
  // Listed later: the file's credential is taken then.
  addCredentialHash(json, 'north-1', credentialSha256(await readCredential(s.credentialFile)));
  await writeCatalogJson(s.catalogFile, json);
  await alone.refresh(s.log);
  assert.equal(alone.credential(), await readCredential(s.credentialFile));
});

test('refreshes asked while one runs get a pass of their own after it', async (t) => {
  const s = await setup(t);
  const trust = await openRegionTrust({ region: 'north-1', ...s });
  const json = await readCatalogJson(s.catalogFile);
  const running = trust.refresh(s.log); // looks before the change below
  const next = newCredential();
  addCredentialHash(json, 'north-1', credentialSha256(next));
  await writeCatalogJson(s.catalogFile, json);
  await writeCredential(s.credentialFile, next);
  const after = trust.refresh(s.log);
  await running;
  assert.equal(await after, true);
  assert.equal(trust.credential(), next);
});
