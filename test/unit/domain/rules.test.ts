// Pure rules: job states, backoff and progress; replication eligibility; the region catalog and deployment
// settings parsers; HTTP ranges; the bandwidth cap.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseRange } from '../../../src/api/range.js';
import { parseCatalog } from '../../../src/config/catalog.js';
import { parseSettings } from '../../../src/config/settings.js';
import {
  ACTIVE_JOB_STATUSES,
  canTransitionJob,
  etaSeconds,
  processPercent,
  retryDelayMs,
  statusesBefore,
} from '../../../src/domain/job.js';
import {
  checkImageReplicable,
  defaultCopyName,
  DEFAULT_REPLICATION_LIMITS,
} from '../../../src/domain/replication-rules.js';
import { createTokenBucket } from '../../../src/lib/token-bucket.js';

test('job states: finished jobs never change; backoff doubles up to its cap; progress and ETA', () => {
  assert.ok(canTransitionJob('INIT', 'RUNNING'));
  assert.ok(canTransitionJob('RUNNING', 'CANCELLED'));
  assert.ok(!canTransitionJob('SUCCESS', 'RUNNING'));
  assert.ok(!canTransitionJob('CANCELLED', 'FAIL'));
  // The guard of every job update (store/jobs.ts, updateJob): a finished job is never written again.
  assert.deepEqual(ACTIVE_JOB_STATUSES, ['INIT', 'RUNNING']);
  assert.deepEqual(statusesBefore('RUNNING'), ['INIT', 'RUNNING']);
  assert.deepEqual(statusesBefore('CANCELLED'), ['INIT', 'RUNNING']);
  assert.deepEqual(statusesBefore('INIT'), ['INIT', 'RUNNING']);
  assert.deepEqual(
    [1, 2, 3, 4].map((n) => retryDelayMs(n, 100)),
    [100, 200, 400, 800],
  );
  assert.equal(retryDelayMs(40), 5 * 60_000);
  const p = {
    bytesTotal: 1000,
    bytesTransferred: 300,
    bytesSkippedPresent: 100,
    bytesSkippedZero: 100,
    bytesPerSecond: 50,
  };
  assert.equal(processPercent(p, 'RUNNING'), 0.5);
  assert.equal(processPercent({ ...p, bytesTransferred: 800 }, 'RUNNING'), 0.99, 'never 1 before SUCCESS');
  assert.equal(processPercent(p, 'SUCCESS'), 1);
  assert.equal(etaSeconds(p), 10);
  assert.equal(etaSeconds({ ...p, bytesPerSecond: 0 }), null);
});

test('replication eligibility names the first rule an image breaks', () => {
  const image = {
    id: 'i',
    status: 'active',
    visibility: 'private',
    diskFormat: 'qcow2',
    imageType: 'system-disk',
    encrypted: false,
    frozen: false,
    size: 10,
    ownedByCaller: true,
  };
  assert.doesNotThrow(() => checkImageReplicable(image, DEFAULT_REPLICATION_LIMITS));
  const code = (changes: object) => {
    try {
      checkImageReplicable({ ...image, ...changes }, { maxImageBytes: 5, maxRunningJobsPerUser: 5 });
      return 'ok';
    } catch (error) {
      return (error as { code: string }).code;
    }
  };
  assert.equal(code({}), 'REPLICATION_TOO_LARGE');
  assert.equal(code({ ownedByCaller: false }), 'REPLICATION_NOT_OWNER');
  assert.equal(code({ visibility: 'public' }), 'REPLICATION_NOT_OWNER');
  assert.equal(code({ diskFormat: 'iso' }), 'REPLICATION_ISO');
  assert.equal(code({ encrypted: true }), 'REPLICATION_ENCRYPTED');
  assert.equal(code({ frozen: true }), 'REPLICATION_FROZEN');
  assert.equal(code({ status: 'saving' }), 'REPLICATION_IMAGE_UNAVAILABLE');
  assert.equal(defaultCopyName('north-1', 'web'), 'copy_north-1_web');
});

test('the catalog and the settings file are validated, with messages naming the bad entry', () => {
  const good = {
    regions: [
      { name: 'north-1', endpoint: 'http://127.0.0.1:1/', credential_sha256: ['0'.repeat(64)] },
      { name: 'south-1', endpoint: 'http://127.0.0.1:2' },
    ],
    replication_pairs: [['north-1', 'south-1']],
  };
  const catalog = parseCatalog(good);
  assert.equal(catalog.regions[0]!.endpoint, 'http://127.0.0.1:1');
  assert.equal(catalog.regions[1]!.display_name, 'south-1');
  assert.throws(
    () => parseCatalog({ ...good, replication_pairs: [['north-1', 'mars-1']] }),
    /replication_pairs\[0\]/,
  );
  assert.throws(
    () => parseCatalog({ regions: [{ name: 'North 1', endpoint: 'http://127.0.0.1' }] }),
    /regions\[0\]\.name/,
  );
  assert.throws(
    () =>
      parseCatalog({
        regions: [{ name: 'n-1', endpoint: 'http://127.0.0.1', internal_secret: 'x'.repeat(16) }],
      }),
    /regions\[0\]\.internal_secret: the catalog no longer holds region secrets/,
  );
  assert.throws(
    () => parseCatalog({ regions: [{ name: 'n-1', endpoint: 'http://ferry.example' }] }),
    /regions\[0\]\.endpoint http:\/\/ferry\.example is plain HTTP to a host that is not loopback/,
  );
  assert.throws(() => parseCatalog({ regions: [good.regions[0], good.regions[0]] }), /unique/);

  const settings = parseSettings({ replication: { limits: { maxImageBytes: 5 }, pollMs: 10 } });
  assert.deepEqual(settings.replication?.limits, { maxImageBytes: 5, maxRunningJobsPerUser: 5 });
  assert.throws(() => parseSettings({ replication: { pollMS: 10 } }), /unknown key replication.pollMS/);
  assert.throws(() => parseSettings({ limits: { maxImageBytes: '1' } }), /wrong type/);

  // Glance's hashing_algorithm: sha512 (the default) or sha256, and nothing else.
  assert.deepEqual(parseSettings({ images: { hashingAlgorithm: 'sha256' } }).images, {
    hashingAlgorithm: 'sha256',
  });
  assert.deepEqual(parseSettings({ images: {} }).images, {});
  assert.throws(
    () => parseSettings({ images: { hashingAlgorithm: 'md5' } }),
    /images\.hashingAlgorithm must be sha512 or sha256, not "md5"/,
  );
  assert.throws(() => parseSettings({ images: { hashingAlgorithm: 256 } }), /wrong type/);
  assert.throws(
    () => parseSettings({ images: { hashAlgorithm: 'sha256' } }),
    /unknown key images.hashAlgorithm/,
  );
});

test('HTTP ranges: the three forms, clamping, and unsatisfiable ones', () => {
  assert.deepEqual(parseRange('bytes=0-9', 100), { start: 0, end: 9 });
  assert.deepEqual(parseRange('bytes=90-', 100), { start: 90, end: 99 });
  assert.deepEqual(parseRange('bytes=-5', 100), { start: 95, end: 99 });
  assert.deepEqual(parseRange('bytes=50-500', 100), { start: 50, end: 99 });
  assert.equal(parseRange('bytes=100-', 100), 'unsatisfiable');
  assert.equal(parseRange('bytes=-0', 100), 'unsatisfiable');
  assert.equal(parseRange('bytes=5-3', 100), undefined, 'invalid: the whole image');
  assert.equal(parseRange('bytes=0-1,5-6', 100), undefined, 'several ranges: the whole image');
  assert.equal(parseRange(undefined, 100), undefined);
});

test('the bandwidth cap holds a rate over time', async () => {
  let clock = 0;
  const bucket = createTokenBucket(1000, () => clock);
  const first = bucket.take(500);
  let firstDone = false;
  void first.then(() => (firstDone = true));
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal(firstDone, false, 'the bucket starts empty: no burst at the start');
  clock = 500;
  await first;
  clock = 2500; // an idle while: at most one second's worth piles up
  await bucket.take(1000);
  const waited = bucket.take(500);
  let done = false;
  void waited.then(() => (done = true));
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal(done, false, 'the bucket is empty: it waits');
  clock = 3100;
  await waited;
  assert.ok(done);
});
