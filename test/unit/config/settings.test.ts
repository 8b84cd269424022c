// The deployment settings file and the region catalog: what each accepts, and a clear refusal naming the
// key for what it does not.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseCatalog, replicationTargets } from '../../../src/config/catalog.js';
import { MAX_CHUNKS_PER_REQUEST } from '../../../src/config/replication.js';
import { parseSettings } from '../../../src/config/settings.js';
import { FerryError } from '../../../src/domain/errors.js';

function refusal(parse: () => unknown): string {
  try {
    parse();
  } catch (error) {
    assert.ok(error instanceof FerryError);
    assert.equal(error.code, 'VALIDATION_FAILED');
    return error.message;
  }
  assert.fail('accepted');
}

test('settings: the sections a deployment may set, merged over the defaults by the region', () => {
  assert.deepEqual(parseSettings({}), {});
  const settings = parseSettings({
    limits: { maxListLimit: 500 },
    images: { hashingAlgorithm: 'sha256' },
    storage: { flushDelayMs: 10 },
    replication: { chunksPerRequest: MAX_CHUNKS_PER_REQUEST, limits: { maxRunningJobsPerUser: 3 } },
  });
  assert.equal(settings.limits?.maxListLimit, 500);
  assert.equal(settings.images?.hashingAlgorithm, 'sha256');
  assert.equal(settings.storage?.flushDelayMs, 10);
  assert.equal(settings.replication?.chunksPerRequest, MAX_CHUNKS_PER_REQUEST);
  assert.equal(settings.replication?.limits?.maxRunningJobsPerUser, 3);
  assert.ok(settings.replication?.limits?.maxImageBytes, 'the other limits keep their defaults');
});

test('settings: unknown keys, wrong types and values out of range are refused by name', () => {
  assert.match(
    refusal(() => parseSettings({ limit: {} })),
    /unknown key \(root\)\.limit/,
  );
  assert.match(
    refusal(() => parseSettings({ limits: { maxListLimit: '5' } })),
    /limits\.maxListLimit has the wrong type/,
  );
  assert.match(
    refusal(() => parseSettings({ images: { hashingAlgorithm: 'md5' } })),
    /sha512 or sha256/,
  );
  assert.match(
    refusal(() => parseSettings({ storage: { compactThreshold: 2 } })),
    /storage\.compactThreshold must be from 0 to 1/,
  );
  assert.match(
    refusal(() => parseSettings({ replication: { chunksPerRequest: MAX_CHUNKS_PER_REQUEST + 1 } })),
    new RegExp(`replication\\.chunksPerRequest must be an integer from 1 to ${MAX_CHUNKS_PER_REQUEST}`),
  );
  assert.match(
    refusal(() => parseSettings([])),
    /\(root\) must be an object/,
  );
});

test('settings: storage.blobStore "s3" with its bucket; what storage.s3 refuses', () => {
  const s3 = {
    bucket: 'ferry-images',
    prefix: 'ferry/prod/',
    endpoint: 'http://127.0.0.1:18580',
    region: 'us-east-1',
    forcePathStyle: true,
    accessKeyId: 'test:tester',
    secretAccessKey: 'testing',
    maxAttempts: 8,
    maxParallelism: 16,
    multipartThresholdBytes: 128 * 1024 * 1024,
  };
  assert.deepEqual(parseSettings({ storage: { blobStore: 's3', s3 } }).storage, { blobStore: 's3', s3 });
  assert.deepEqual(parseSettings({ storage: { blobStore: 's3', s3: { bucket: 'abc' } } }).storage, {
    blobStore: 's3',
    s3: { bucket: 'abc' },
  });
  const refused = (storage: unknown) => refusal(() => parseSettings({ storage }));
  assert.match(refused({ blobStore: 'ceph' }), /storage\.blobStore must be fs or s3/);
  assert.match(refused({ blobStore: 's3' }), /needs storage\.s3/);
  assert.match(refused({ blobStore: 's3', s3: {} }), /storage\.s3\.bucket is required/);
  assert.match(refused({ s3: { bucket: 'Ferry_Images' } }), /storage\.s3\.bucket is required: 3 to 63/);
  assert.match(refused({ s3: { bucket: 'abc', bucketName: 'x' } }), /unknown key storage\.s3\.bucketName/);
  assert.match(
    refused({ s3: { bucket: 'abc', forcePathStyle: 'yes' } }),
    /forcePathStyle has the wrong type/,
  );
  for (const prefix of ['ferry', '/ferry/', 'a//', '../x/', 'a b/'])
    assert.match(refused({ s3: { bucket: 'abc', prefix } }), /storage\.s3\.prefix must be empty or/, prefix);
  assert.match(refused({ s3: { bucket: 'abc', endpoint: 'ftp://x' } }), /endpoint must be an http\(s\) URL/);
  assert.match(refused({ s3: { bucket: 'abc', accessKeyId: 'k' } }), /go together/);
  assert.match(refused({ s3: { bucket: 'abc', maxAttempts: 0 } }), /maxAttempts must be an integer from 1/);
  assert.match(
    refused({ s3: { bucket: 'abc', multipartThresholdBytes: 1024 } }),
    /multipartThresholdBytes must be an integer from 5242880 to 5368709120/,
  );
});

test('catalog: regions with endpoints and credential hashes, and replication pairs of known regions', () => {
  const catalog = parseCatalog({
    regions: [
      { name: 'north-1', endpoint: 'http://127.0.0.1:9301/', credential_sha256: ['ab'.repeat(32)] },
      { name: 'south-1', endpoint: 'http://127.0.0.1:9302' },
    ],
    replication_pairs: [['north-1', 'south-1']],
  });
  assert.equal(catalog.regions[0]!.endpoint, 'http://127.0.0.1:9301', 'no trailing slash');
  assert.equal(catalog.regions[1]!.display_name, 'south-1');
  assert.deepEqual(catalog.regions[0]!.credential_sha256, ['ab'.repeat(32)]);
  assert.deepEqual(catalog.replication_pairs, [['north-1', 'south-1']]);
  // Pairs are one-way: south-1 may not replicate back.
  assert.deepEqual(replicationTargets(catalog, 'north-1'), ['south-1']);
  assert.deepEqual(replicationTargets(catalog, 'south-1'), []);
  const region = (extra: object) => ({
    regions: [{ name: 'north-1', endpoint: 'http://127.0.0.1:1', ...extra }],
  });
  assert.match(
    refusal(() => parseCatalog({ regions: [] })),
    /non-empty array/,
  );
  assert.match(
    refusal(() => parseCatalog(region({ name: 'North' }))),
    /regions\[0\]\.name/,
  );
  assert.match(
    refusal(() => parseCatalog(region({ endpoint: 'ftp://x' }))),
    /http\(s\) URL/,
  );
  assert.match(
    refusal(() => parseCatalog(region({ credential_sha256: ['short'] }))),
    /regions\[0\]\.credential_sha256 must be a list of SHA-256 hashes/,
  );
  assert.match(
    refusal(() => parseCatalog(region({ internal_secret: 's'.repeat(16) }))),
    /regions\[0\]\.internal_secret: the catalog no longer holds region secrets.*ferry region credential migrate/,
  );
  assert.match(
    refusal(() => parseCatalog({ ...region({}), replication_pairs: [['north-1', 'north-1']] })),
    /same region twice/,
  );
  assert.match(
    refusal(() => parseCatalog({ ...region({}), replication_pairs: [['north-1', 'mars-1']] })),
    /known regions/,
  );
});
