// Whole-server images: vaults, an image made from three qcow2 disks (qemu-img), its replication into a
// replication vault of the destination (every disk byte-identical there, the usage report showing the vault's
// storage and the traffic), each refusal with its code and nothing created, and IMS's sharing rules.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import {
  api,
  JSON_PATCH,
  OCTET,
  startTestDeployment,
  type TestDeployment,
} from '../../helpers/deployment.js';
import { makeImage } from '../../helpers/qemu.js';
import { requestReplication, waitForJob } from '../../helpers/replication.js';
import { makeTempDir } from '../../helpers/tmp.js';

const MiB = 1024 * 1024;
const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');

/** Uploads a qcow2 file as an image of `region`; its id. */
async function uploadDisk(d: TestDeployment, token: string, region: string, file: Buffer, name: string) {
  const created = await api(d.url(region), token, 'POST', '/v2/images', {
    name,
    disk_format: 'qcow2',
    container_format: 'bare',
    visibility: 'private',
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const put = await api(d.url(region), token, 'PUT', `/v2/images/${created.body.id}/file`, file, OCTET);
  assert.equal(put.status, 204, JSON.stringify(put.body));
  return created.body.id as string;
}

async function createVault(d: TestDeployment, token: string, region: string, body: Record<string, unknown>) {
  const created = await api(d.url(region), token, 'POST', '/v1/vaults', { size_gib: 1, ...body });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  return created.body.id as string;
}

async function threeDisks(t: Parameters<typeof startTestDeployment>[0]) {
  const dir = await makeTempDir(t);
  const files: Buffer[] = [];
  for (const [i, [size, data]] of [
    [64 * MiB, 3 * MiB + 4321],
    [32 * MiB, 2 * MiB + 17],
    [16 * MiB, MiB],
  ].entries()) {
    files.push(
      await readFile(await makeImage(dir, 'qcow2', size!, { randomData: data, name: `d${i}.qcow2` })),
    );
  }
  return files;
}

test('a whole-server image of three qcow2 disks replicates into a replication vault, byte-identical', async (t) => {
  const d = await startTestDeployment(t, ['north-1', 'south-1'], {}, {}, { vaultStoragePricePerGiBMonth: 6 });
  const north = d.url('north-1');
  const south = d.url('south-1');
  const a = d.demo.token;
  const files = await threeDisks(t);
  const disks = [];
  for (const [i, file] of files.entries()) disks.push(await uploadDisk(d, a, 'north-1', file, `disk-${i}`));

  // A vault must be of protection type backup to make the image in; the image takes the disks' bytes.
  const replicationHere = await createVault(d, a, 'north-1', { name: 'r', protection_type: 'replication' });
  const wrongType = await api(north, a, 'POST', '/v1/cloudimages/wholeimages', {
    name: 'server',
    vault_id: replicationHere,
    disks,
  });
  assert.equal(wrongType.status, 400);
  assert.equal(wrongType.body.error.ferry_code, 'VAULT_TYPE');
  const backupVault = await createVault(d, a, 'north-1', { name: 'b', protection_type: 'backup' });
  const made = await api(north, a, 'POST', '/v1/cloudimages/wholeimages', {
    name: 'server',
    vault_id: backupVault,
    disks,
  });
  assert.equal(made.status, 201, JSON.stringify(made.body));
  const image = made.body;
  assert.equal(image.image_type, 'full-server');
  assert.equal(image.status, 'active');
  const total = files.reduce((sum, f) => sum + f.length, 0);
  assert.equal(image.size, total);
  const vault = (await api(north, a, 'GET', `/v1/vaults/${backupVault}`)).body;
  assert.equal(vault.used, total);
  assert.equal(vault.protection_type, 'backup');
  // The vault cannot be deleted while it holds backups; its image cannot be downloaded or copied in-region.
  assert.equal(
    (await api(north, a, 'DELETE', `/v1/vaults/${backupVault}`)).body.error.code,
    'VAULT_NOT_EMPTY',
  );
  const download = await api(north, a, 'GET', `/v2/images/${image.id}/file`);
  assert.equal(download.body.error.code, 'WHOLE_SERVER_IMAGE');
  const inRegion = await api(north, a, 'POST', `/v1/cloudimages/${image.id}/copy`, { name: 'x' });
  assert.equal(inRegion.status, 400);
  assert.equal(inRegion.body.error.code, 'IMG.0130');
  assert.deepEqual((await api(north, a, 'GET', '/v1/cloudimages/jobs')).body.jobs, [], 'no copy job');
  assert.equal((await api(north, a, 'GET', '/v2/images')).body.images.length, 4, 'no new image');
  // The disk images may go: the backups hold the data.
  for (const disk of disks) assert.equal((await api(north, a, 'DELETE', `/v2/images/${disk}`)).status, 204);
  await api(north, d.admin.token, 'POST', '/v1/admin/gc', { grace_seconds: 0 });

  // Refusals, each with its code, none creating anything in the destination.
  const southVaultBackup = await createVault(d, a, 'south-1', { name: 'sb', protection_type: 'backup' });
  await api(north, a, 'POST', '/v1/agencies', {
    name: 'disks_only',
    policies: [{ region: 'south-1', policy: 'CrossCopyAgencyPolicy' }],
  });
  const cases: Array<[Record<string, unknown>, string, string]> = [
    [{}, 'REPLICATION_FULL_SERVER_NEEDS_VAULT', 'REPLICATION_FULL_SERVER_NEEDS_VAULT'],
    [{ vault_id: 'no-such-vault-123' }, 'REPLICATION_VAULT_NOT_FOUND', 'REPLICATION_VAULT_NOT_FOUND'],
    [{ vault_id: replicationHere }, 'REPLICATION_VAULT_NOT_FOUND', 'REPLICATION_VAULT_NOT_FOUND'], // north-1's
    [{ vault_id: southVaultBackup }, 'IMG.0189', 'REPLICATION_VAULT_TYPE'],
    [{ agency_name: 'disks_only', vault_id: southVaultBackup }, 'IMG.0151', 'REPLICATION_AGENCY_INVALID'],
  ];
  for (const [extra, code, ferryCode] of cases) {
    const refused = await requestReplication(north, a, image.id, {
      region: 'south-1',
      agency_name: 'ferry_copy',
      ...extra,
    });
    assert.equal(refused.status, 400, JSON.stringify(refused.body));
    assert.equal(refused.body.error.code, code, JSON.stringify(extra));
    assert.equal(refused.body.error.ferry_code, ferryCode);
  }
  assert.deepEqual((await api(north, a, 'GET', '/v1/cloudimages/jobs')).body.jobs, []);
  assert.deepEqual((await api(south, a, 'GET', '/v2/images')).body.images, []);
  assert.equal((await api(south, a, 'GET', `/v1/vaults/${southVaultBackup}`)).body.used, 0);

  // Into a replication vault of the destination: every disk arrives byte-identical.
  const southVault = await createVault(d, a, 'south-1', { name: 'sr', protection_type: 'replication' });
  const started = await requestReplication(north, a, image.id, {
    region: 'south-1',
    agency_name: 'ferry_copy',
    vault_id: southVault,
  });
  assert.equal(started.status, 200, JSON.stringify(started.body));
  const job = await waitForJob(north, a, started.body.job_id);
  assert.equal(job.status, 'SUCCESS', JSON.stringify(job));
  assert.equal(job.entities.process_percent, 1);
  assert.equal(job.bytes_total, total, 'the progress covers every disk');
  const replica = (await api(south, a, 'GET', `/v2/images/${job.dest_image_id}`)).body;
  assert.equal(replica.image_type, 'full-server');
  assert.equal(replica.status, 'active');
  assert.equal(replica.size, total);
  const replicaDisks = (await api(south, a, 'GET', `/v1/cloudimages/${replica.id}/disks`)).body.disks;
  assert.deepEqual(
    replicaDisks.map((b: { disk_index: number; role: string; vault_id: string; status: string }) => [
      b.disk_index,
      b.role,
      b.vault_id,
      b.status,
    ]),
    [
      [0, 'system', southVault, 'available'],
      [1, 'data', southVault, 'available'],
      [2, 'data', southVault, 'available'],
    ],
  );
  for (const [i, file] of files.entries()) {
    const got = await fetch(`${south}${replicaDisks[i].file}`, { headers: { 'x-auth-token': a } });
    assert.equal(got.status, 200);
    assert.equal(sha256(new Uint8Array(await got.arrayBuffer())), sha256(file), `disk ${i}`);
  }
  const listed = (await api(south, a, 'GET', `/v1/vaults/${southVault}/backups`)).body.backups;
  assert.equal(listed.length, 3);
  assert.equal((await api(south, a, 'GET', `/v1/vaults/${southVault}`)).body.used, total);

  // The usage report: the vault's storage in the destination, the traffic from the source.
  const southUsage = (await api(south, a, 'GET', '/v1/usage')).body.usage;
  const vaultRow = southUsage.find((r: { kind: string }) => r.kind === 'vault_storage');
  assert.equal(vaultRow?.bytes, total, JSON.stringify(southUsage));
  assert.equal(
    vaultRow.cost,
    Math.round((total / 1024 ** 3) * (6 / 30) * 1e6) / 1e6,
    'a day of the vault price',
  );
  // Not counted twice: the whole-server image's bytes are its backups'.
  const imageRow = southUsage.find((r: { kind: string }) => r.kind === 'image_storage');
  assert.equal(imageRow?.bytes, 0, JSON.stringify(southUsage));
  const northUsage = (await api(north, a, 'GET', '/v1/usage')).body.usage;
  const traffic = northUsage.find((r: { kind: string; dest_region: string }) => r.kind === 'transfer');
  assert.equal(traffic?.dest_region, 'south-1');
  assert.ok(traffic.bytes > 0 && traffic.bytes <= total, JSON.stringify(northUsage));
  // The source's vault counts as storage too (backup vault), where the disk images no longer do.
  const northVault = northUsage.find((r: { kind: string }) => r.kind === 'vault_storage');
  assert.equal(northVault?.bytes, total);

  // Deleting the replica frees its vault, which can then be deleted.
  assert.equal((await api(south, a, 'DELETE', `/v2/images/${replica.id}`)).status, 204);
  assert.equal((await api(south, a, 'GET', `/v1/vaults/${southVault}`)).body.used, 0);
  assert.equal((await api(south, a, 'DELETE', `/v1/vaults/${southVault}`)).status, 204);
  assert.equal((await api(south, a, 'GET', `/v1/vaults/${southVault}`)).status, 404);
});

test('vaults: checked input, invisible to other projects; whole-server sharing takes 10 members and a vault on accept', async (t) => {
  const d = await startTestDeployment(t, ['north-1']);
  const north = d.url();
  const a = d.demo.token;
  const b = d.other.token;
  const bad = await api(north, a, 'POST', '/v1/vaults', {
    name: 'v',
    protection_type: 'archive',
    size_gib: 1,
  });
  assert.equal(bad.status, 400);
  assert.equal(bad.body.error.code, 'VALIDATION_FAILED');
  const tooBig = await api(north, a, 'POST', '/v1/vaults', {
    name: 'v',
    protection_type: 'backup',
    size_gib: 0,
  });
  assert.equal(tooBig.status, 400);
  // Glance cannot make a whole-server image by naming its type.
  const named = await api(north, a, 'POST', '/v2/images', { name: 'x', image_type: 'full-server' });
  assert.equal(named.status, 400);
  assert.match(named.body.error.message, /wholeimages/);

  const files = await threeDisks(t);
  const disk = await uploadDisk(d, a, 'north-1', files[2]!, 'small');
  const tiny = await createVault(d, a, 'north-1', { name: 'v', protection_type: 'backup' });
  const image = (
    await api(north, a, 'POST', '/v1/cloudimages/wholeimages', { name: 's', vault_id: tiny, disks: [disk] })
  ).body;
  assert.equal(image.image_type, 'full-server');
  // Another account sees neither the vault nor its backups, and cannot use it.
  assert.equal((await api(north, b, 'GET', `/v1/vaults/${tiny}`)).status, 404);
  assert.equal((await api(north, b, 'GET', `/v1/vaults/${tiny}/backups`)).status, 404);
  assert.deepEqual((await api(north, b, 'GET', '/v1/vaults')).body.vaults, []);
  assert.equal((await api(north, b, 'GET', `/v1/cloudimages/${image.id}/disks/0/file`)).status, 404);
  const theirs = await api(north, b, 'POST', '/v1/cloudimages/wholeimages', {
    name: 's',
    vault_id: tiny,
    disks: [disk],
  });
  assert.equal(theirs.body.error.ferry_code, 'VAULT_NOT_FOUND');

  // Sharing: 10 members at most; the member accepts only with a backup vault of its own.
  const patch = [{ op: 'replace', path: '/visibility', value: 'shared' }];
  assert.equal((await api(north, a, 'PATCH', `/v2/images/${image.id}`, patch, JSON_PATCH)).status, 200);
  const bProject = d.other.projects['north-1']!;
  assert.equal(
    (await api(north, a, 'POST', `/v2/images/${image.id}/members`, { member: bProject })).status,
    200,
  );
  const noVault = await api(north, b, 'PUT', `/v2/images/${image.id}/members/${bProject}`, {
    status: 'accepted',
  });
  assert.equal(noVault.status, 400);
  assert.equal(noVault.body.error.code, 'VAULT_REQUIRED');
  const notTheirs = await api(north, b, 'PUT', `/v2/images/${image.id}/members/${bProject}`, {
    status: 'accepted',
    vault_id: tiny,
  });
  assert.equal(notTheirs.body.error.code, 'VAULT_NOT_FOUND');
  const bVault = await createVault(d, b, 'north-1', { name: 'mine', protection_type: 'backup' });
  const accepted = await api(north, b, 'PUT', `/v2/images/${image.id}/members/${bProject}`, {
    status: 'accepted',
    vault_id: bVault,
  });
  assert.equal(accepted.status, 200, JSON.stringify(accepted.body));
  assert.equal(accepted.body.vault_id, bVault);
  // A deactivated image's disks are not read (by its owner or a member); reactivated, they are.
  assert.equal((await api(north, a, 'POST', `/v2/images/${image.id}/actions/deactivate`)).status, 204);
  const deactivated = await api(north, b, 'GET', `/v1/cloudimages/${image.id}/disks/0/file`);
  assert.equal(deactivated.status, 403);
  assert.equal((await api(north, a, 'POST', `/v2/images/${image.id}/actions/reactivate`)).status, 204);
  // The member reads the disks of the image shared with it.
  const got = await fetch(`${north}/v1/cloudimages/${image.id}/disks/0/file`, {
    headers: { 'x-auth-token': b },
  });
  assert.equal(got.status, 200);
  assert.equal(sha256(new Uint8Array(await got.arrayBuffer())), sha256(files[2]!));

  const account = (await api(north, d.admin.token, 'POST', '/v1/admin/accounts', { name: 'many' })).body;
  const projects: string[] = [];
  for (let i = 0; i < 10; i++) {
    const created = await api(north, d.admin.token, 'POST', `/v1/admin/accounts/${account.id}/projects`, {
      name: `p${i}`,
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    projects.push(created.body.id);
  }
  let refused;
  for (const project of projects) {
    const added = await api(north, a, 'POST', `/v2/images/${image.id}/members`, { member: project });
    if (added.status !== 200) {
      refused = added;
      break;
    }
  }
  assert.equal(refused?.status, 413);
  assert.equal(refused?.body.error.code, 'LIMIT_EXCEEDED');
  assert.match(refused?.body.error.message, /at most 10 projects/);
  const members = (await api(north, a, 'GET', `/v2/images/${image.id}/members`)).body.members;
  assert.equal(members.length, 10);
});
