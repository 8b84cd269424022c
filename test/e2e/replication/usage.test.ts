// The usage report: per day, the traffic an account sent to each region and its image storage, priced from the
// deployment's settings, as JSON and CSV, and only the caller's account.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sampleStorageUsage } from '../../../src/region/storage-usage.js';
import { api, startTestDeployment } from '../../helpers/deployment.js';
import { pseudoRandom, startReplication, uploadImage, waitForJob } from '../../helpers/replication.js';

const MiB = 1024 * 1024;
const GiB = 1024 ** 3;

test('GET /v1/usage: traffic per destination and image storage per day, priced; CSV too', async (t) => {
  const d = await startTestDeployment(
    t,
    ['north-1', 'south-1'],
    { transferPricePerGiB: 0.08 },
    {},
    { storagePricePerGiBMonth: 3, vaultStoragePricePerGiBMonth: 1.5 },
  );
  const north = d.url('north-1');
  const token = d.demo.token;
  const image = await uploadImage(d, token, 'north-1', pseudoRandom(3 * MiB, 111), { name: 'billed' });
  const job = await startReplication(north, token, image);
  assert.equal((await waitForJob(north, token, job)).status, 'SUCCESS');

  const today = new Date().toISOString().slice(0, 10);
  const report = (await api(north, token, 'GET', '/v1/usage')).body;
  assert.equal(report.region, 'north-1');
  assert.deepEqual(report.prices, {
    transfer_per_gib: 0.08,
    image_storage_per_gib_month: 3,
    vault_storage_per_gib_month: 1.5,
  });
  const money = (value: number) => Math.round(value * 1e6) / 1e6;
  assert.deepEqual(report.usage, [
    {
      day: today,
      kind: 'image_storage',
      dest_region: null,
      bytes: 3 * MiB,
      cost: money(((3 * MiB) / GiB) * 0.1),
    },
    {
      day: today,
      kind: 'transfer',
      dest_region: 'south-1',
      bytes: 3 * MiB,
      cost: money(((3 * MiB) / GiB) * 0.08),
    },
  ]);

  // The day keeps its highest sample: deleting the image later that day does not take it off the bill.
  await sampleStorageUsage(d.regions[0]!.ctx);
  assert.equal((await api(north, token, 'DELETE', `/v2/images/${image}`)).status, 204);
  const after = (await api(north, token, 'GET', '/v1/usage')).body;
  assert.equal(after.usage.find((row: { kind: string }) => row.kind === 'image_storage').bytes, 3 * MiB);

  const csv = await fetch(`${north}/v1/usage?format=csv`, { headers: { 'x-auth-token': token } });
  assert.equal(csv.status, 200);
  assert.match(csv.headers.get('content-type') ?? '', /^text\/csv/);
  assert.equal(
    await csv.text(),
    [
      'day,region,kind,dest_region,bytes,cost',
      `${today},north-1,image_storage,,${3 * MiB},${money(((3 * MiB) / GiB) * 0.1)}`,
      `${today},north-1,transfer,south-1,${3 * MiB},${money(((3 * MiB) / GiB) * 0.08)}`,
      '',
    ].join('\r\n'),
  );
  assert.equal((await api(north, token, 'GET', '/v1/usage?format=xml')).status, 400);

  // Another account sees only its own (nothing here).
  const theirs = (await api(north, d.other.token, 'GET', '/v1/usage')).body;
  assert.deepEqual(
    theirs.usage.map((row: { kind: string; bytes: number }) => [row.kind, row.bytes]),
    [['image_storage', 0]],
  );
  // The destination reports the replica's storage to the same account, and no traffic (it received).
  const south = (await api(d.url('south-1'), token, 'GET', '/v1/usage')).body;
  assert.deepEqual(
    south.usage.map((row: { kind: string; bytes: number }) => [row.kind, row.bytes]),
    [['image_storage', 3 * MiB]],
  );
});
