// The catalog's region trust fields: credential hashes (not secrets), the refusal of the former
// internal_secret, the plain-HTTP rule, what clients get, and the edits the rotation commands make.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  clientCatalog,
  hasCredentials,
  isLoopbackHost,
  parseCatalog,
  type RegionCatalog,
} from '../../../src/config/catalog.js';
import {
  addCredentialHash,
  keepOnlyCredentialHash,
  migrateInternalSecrets,
  type CatalogJson,
} from '../../../src/config/catalog-file.js';
import { credentialSha256 } from '../../../src/config/region-credential.js';

const HASH_A = 'a'.repeat(64);
const HASH_B = 'b'.repeat(64);

function refusal(f: () => unknown): string {
  try {
    f();
  } catch (error) {
    return (error as Error).message;
  }
  assert.fail('expected a refusal');
}

const one = (region: object, top: object = {}) => ({ regions: [{ name: 'north-1', ...region }], ...top });

test('credential_sha256: a list of hex SHA-256, lower-cased and without repeats; absent or empty takes no part', () => {
  const catalog = parseCatalog(
    one({ endpoint: 'https://north.example', credential_sha256: [HASH_A, HASH_B, HASH_A.toUpperCase()] }),
  );
  assert.deepEqual(catalog.regions[0]!.credential_sha256, [HASH_A, HASH_B]);
  assert.ok(hasCredentials(catalog.regions[0]));
  assert.ok(!hasCredentials(parseCatalog(one({ endpoint: 'https://n.example' })).regions[0]));
  assert.ok(
    !hasCredentials(parseCatalog(one({ endpoint: 'https://n.example', credential_sha256: [] })).regions[0]),
  );
  for (const bad of ['a'.repeat(63), 'g'.repeat(64), 42, null]) {
    assert.match(
      refusal(() => parseCatalog(one({ endpoint: 'https://n.example', credential_sha256: [bad] }))),
      /regions\[0\]\.credential_sha256 must be a list of SHA-256 hashes \(64 hex digits\)/,
      String(bad),
    );
  }
  assert.match(
    refusal(() => parseCatalog(one({ endpoint: 'https://n.example', credential_sha256: HASH_A }))),
    /credential_sha256 must be a list/,
  );
});

test('the former internal_secret is refused, with the command that migrates it', () => {
  const message = refusal(() =>
    parseCatalog(one({ endpoint: 'http://127.0.0.1:1', internal_secret: 'x'.repeat(32) })),
  );
  assert.match(
    message,
    /^region catalog: regions\[0\]\.internal_secret: the catalog no longer holds region secrets/,
  );
  assert.match(message, /ferry region credential migrate --catalog FILE --data DIR/);
  assert.match(message, /`ferry local` migrates its own data folder/);
});

test('plain http only to loopback, unless the catalog allows it; https anywhere', () => {
  for (const host of ['127.0.0.1', '127.8.9.10', 'localhost', 'LOCALHOST', '[::1]']) {
    assert.ok(isLoopbackHost(new URL(`http://${host}:1`).hostname), host);
    assert.doesNotThrow(() => parseCatalog(one({ endpoint: `http://${host}:9301` })), host);
  }
  for (const host of ['10.0.0.1', '128.0.0.1', 'north.example', '[::2]', '127.0.0.1.example', '0.0.0.0']) {
    assert.ok(!isLoopbackHost(new URL(`http://${host}:1`).hostname), host);
    assert.match(
      refusal(() => parseCatalog(one({ endpoint: `http://${host}:9301` }))),
      /regions\[0\]\.endpoint http:\/\/\S+ is plain HTTP to a host that is not loopback: use https:\/\/, or set "allow_plain_http": true/,
      host,
    );
    assert.doesNotThrow(() => parseCatalog(one({ endpoint: `https://${host}:9301` })), host);
  }
  const allowed = parseCatalog(one({ endpoint: 'http://10.0.0.1:9301' }, { allow_plain_http: true }));
  assert.equal(allowed.allow_plain_http, true);
  assert.match(
    refusal(() => parseCatalog(one({ endpoint: 'http://10.0.0.1' }, { allow_plain_http: 'yes' }))),
    /"allow_plain_http" must be true or false/,
  );
  assert.match(
    refusal(() => parseCatalog(one({ endpoint: 'http://' }))),
    /regions\[0\]\.endpoint must be an http\(s\) URL/,
  );
});

test('the clients’ catalog: regions, endpoints and pairs, the plain-HTTP allowance, no hashes', () => {
  const catalog: RegionCatalog = parseCatalog({
    regions: [
      { name: 'north-1', endpoint: 'http://10.0.0.1', credential_sha256: [HASH_A] },
      { name: 'south-1', display_name: 'South', endpoint: 'https://s.example', credential_sha256: [HASH_B] },
    ],
    replication_pairs: [['north-1', 'south-1']],
    allow_plain_http: true,
  });
  const clients = clientCatalog(catalog);
  assert.deepEqual(clients, {
    regions: [
      { name: 'north-1', display_name: 'north-1', endpoint: 'http://10.0.0.1' },
      { name: 'south-1', display_name: 'South', endpoint: 'https://s.example' },
    ],
    replication_pairs: [['north-1', 'south-1']],
    allow_plain_http: true,
  });
  assert.deepEqual(parseCatalog(clients), clients, 'a clients’ catalog parses as it is');
});

test('rotation edits: a hash added once, then the others removed; never the one in use', () => {
  const json: CatalogJson = {
    regions: [
      { name: 'north-1', endpoint: 'https://n.example', credential_sha256: [HASH_A], note: 'kept' },
      { name: 'south-1', endpoint: 'https://s.example', credential_sha256: [HASH_B] },
    ],
    custom: 1,
  };
  addCredentialHash(json, 'north-1', HASH_B);
  addCredentialHash(json, 'north-1', HASH_B);
  assert.deepEqual(json.regions[0]!.credential_sha256, [HASH_A, HASH_B]);
  assert.equal(json.regions[0]!.note, 'kept', 'other fields stay');
  assert.equal(json.custom, 1);
  assert.match(
    refusal(() => keepOnlyCredentialHash(json, 'north-1', 'c'.repeat(64))),
    /would lock it out/,
  );
  assert.deepEqual(keepOnlyCredentialHash(json, 'north-1', HASH_B), [HASH_A]);
  assert.deepEqual(json.regions[0]!.credential_sha256, [HASH_B]);
  assert.deepEqual(json.regions[1]!.credential_sha256, [HASH_B], 'the other region is untouched');
  assert.match(
    refusal(() => addCredentialHash(json, 'mars-1', HASH_A)),
    /region mars-1 is not in the catalog/,
  );
});

test('migration: each internal_secret replaced by its hash, the secrets handed back', () => {
  const json: CatalogJson = {
    regions: [
      { name: 'north-1', endpoint: 'http://127.0.0.1:1', internal_secret: 'n'.repeat(32) },
      { name: 'south-1', endpoint: 'http://127.0.0.1:2' },
    ],
  };
  assert.deepEqual(migrateInternalSecrets(json), [{ region: 'north-1', credential: 'n'.repeat(32) }]);
  assert.deepEqual(json.regions[0], {
    name: 'north-1',
    endpoint: 'http://127.0.0.1:1',
    credential_sha256: [credentialSha256('n'.repeat(32))],
  });
  assert.ok(!('credential_sha256' in json.regions[1]!));
  assert.doesNotThrow(() => parseCatalog(json));
  assert.deepEqual(migrateInternalSecrets(json), [], 'nothing left to move');
  assert.match(
    refusal(() => migrateInternalSecrets({ regions: [{ name: 'n-1', internal_secret: 'short' }] })),
    /at least 16/,
  );
});
