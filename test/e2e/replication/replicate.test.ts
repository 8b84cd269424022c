// Cross-region replication end to end: a qemu-img image crosses regions and arrives identical; one call
// fans out to several regions; several images go in one call; the job API shows progress and detail.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { api, startTestDeployment } from '../../helpers/deployment.js';
import { makeImage } from '../../helpers/qemu.js';
import { pseudoRandom, requestReplication, uploadImage, waitForJob } from '../../helpers/replication.js';
import { makeTempDir } from '../../helpers/tmp.js';
import { startRegionProcesses } from '../../helpers/region-processes.js';

const run = promisify(execFile);
const MiB = 1024 * 1024;

test('a qcow2 made by qemu-img is replicated between two region processes: new id, default name, same hashes, identical data', async (t) => {
  const d = await startRegionProcesses(t, ['north-1', 'south-1']);
  const dir = await makeTempDir(t);
  const source = await makeImage(dir, 'qcow2', 128 * MiB, { randomData: 9 * MiB + 777 });
  const sourceId = await uploadImage(d, d.demo.token, 'north-1', await readFile(source), {
    name: 'web',
    disk_format: 'qcow2',
  });
  const sourceImage = (await api(d.url('north-1'), d.demo.token, 'GET', `/v2/images/${sourceId}`)).body;

  const started = await requestReplication(d.url('north-1'), d.demo.token, sourceId, {
    region: 'south-1',
    project_name: 'south-1',
    agency_name: 'ferry_copy',
    description: 'for the south',
  });
  assert.equal(started.status, 200, JSON.stringify(started.body));
  assert.match(started.body.job_id, /^[0-9a-f]{32}$/);
  const job = await waitForJob(d.url('north-1'), d.demo.token, started.body.job_id);
  assert.equal(job.status, 'SUCCESS', JSON.stringify(job));
  assert.equal(job.job_type, 'imsCrossRegionCopyImageJob');
  assert.equal(job.entities.process_percent, 1);
  assert.equal(job.source_region, 'north-1');
  assert.equal(job.dest_region, 'south-1');
  assert.ok(job.end_time >= job.begin_time);
  assert.equal(job.bytes_total, sourceImage.size);

  const destId = job.entities.image_id;
  assert.notEqual(destId, sourceId);
  const dest = (await api(d.url('south-1'), d.demo.token, 'GET', `/v2/images/${destId}`)).body;
  assert.equal(dest.status, 'active');
  assert.equal(dest.name, 'copy_north-1_web');
  assert.equal(dest.description, 'for the south');
  assert.equal(dest.owner, d.demo.projects['south-1']);
  assert.equal(dest.checksum, sourceImage.checksum);
  assert.equal(dest.os_hash_value, sourceImage.os_hash_value);
  assert.equal(dest.virtual_size, 128 * MiB);
  assert.deepEqual(
    { source_region: dest.replication.source_region, source_image_id: dest.replication.source_image_id },
    { source_region: 'north-1', source_image_id: sourceId },
  );

  const download = await fetch(`${d.url('south-1')}/v2/images/${destId}/file`, {
    headers: { 'x-auth-token': d.demo.token },
  });
  const copy = join(dir, 'copy.qcow2');
  await writeFile(copy, Buffer.from(await download.arrayBuffer()));
  await run('qemu-img', ['compare', '-q', source, copy]);
  await run('qemu-img', ['check', '-q', copy]);
  const late = await api(d.url('south-1'), d.demo.token, 'POST', `/v1/cloudimages/${destId}/cancel_copy`);
  assert.equal(late.status, 409);
  assert.equal(late.body.error.code, 'JOB_FINISHED');

  const usage = await api(d.url('north-1'), d.demo.token, 'GET', '/v1/usage/transfer');
  const row = usage.body.usage.find((u: { dest_region: string }) => u.dest_region === 'south-1');
  assert.ok(row.bytes > 0 && row.bytes <= sourceImage.size, 'the traffic is metered');
  assert.equal(row.cost, 0, 'at the default price of 0');
});

/** Starts a job from north-1 to south-1 for `imageId` and waits for it to succeed; the replica's image. */
async function replicateToSouth(
  d: { url(region: string): string; demo: { token: string } },
  imageId: string,
): Promise<Record<string, unknown>> {
  const started = await requestReplication(d.url('north-1'), d.demo.token, imageId, {
    region: 'south-1',
    agency_name: 'ferry_copy',
  });
  assert.equal(started.status, 200, JSON.stringify(started.body));
  const job = await waitForJob(d.url('north-1'), d.demo.token, started.body.job_id);
  assert.equal(job.status, 'SUCCESS', JSON.stringify(job));
  return (await api(d.url('south-1'), d.demo.token, 'GET', `/v2/images/${job.entities.image_id}`)).body;
}

test("a replica keeps its source's os_hash_algo and value, whatever its own region's hashing algorithm", async (t) => {
  const d = await startTestDeployment(t, ['north-1', 'south-1']);
  // Only north-1 hashes uploads with SHA-256; south-1 keeps the default (sha512), so a replica that took its
  // region's setting, or hashed the image again, would show.
  d.regions.find((region) => region.name === 'north-1')!.ctx.images.hashingAlgorithm = 'sha256';
  const data = pseudoRandom(3 * MiB + 5, 7);
  const sourceId = await uploadImage(d, d.demo.token, 'north-1', data, { name: 'hashed' });
  const source = (await api(d.url('north-1'), d.demo.token, 'GET', `/v2/images/${sourceId}`)).body;
  assert.equal(source.os_hash_algo, 'sha256');
  assert.equal(source.os_hash_value, createHash('sha256').update(data).digest('hex'));

  const replica = await replicateToSouth(d, sourceId);
  assert.equal(replica.status, 'active');
  assert.equal(replica.os_hash_algo, 'sha256');
  assert.equal(replica.os_hash_value, source.os_hash_value);
  assert.equal(replica.checksum, source.checksum);

  // An upload into south-1 itself still uses south-1's setting.
  const localId = await uploadImage(d, d.demo.token, 'south-1', data, { name: 'local' });
  const local = (await api(d.url('south-1'), d.demo.token, 'GET', `/v2/images/${localId}`)).body;
  assert.equal(local.os_hash_algo, 'sha512');
  assert.equal(local.os_hash_value, createHash('sha512').update(data).digest('hex'));
});

test('ferry serve --settings: images.hashingAlgorithm sha256 holds for uploads and the replicas made of them', async (t) => {
  const d = await startRegionProcesses(t, ['north-1', 'south-1'], { images: { hashingAlgorithm: 'sha256' } });
  const data = pseudoRandom(2 * MiB + 3, 8);
  const sourceId = await uploadImage(d, d.demo.token, 'north-1', data, { name: 'served' });
  const source = (await api(d.url('north-1'), d.demo.token, 'GET', `/v2/images/${sourceId}`)).body;
  assert.equal(source.os_hash_algo, 'sha256');
  assert.equal(source.os_hash_value, createHash('sha256').update(data).digest('hex'));
  const replica = await replicateToSouth(d, sourceId);
  assert.equal(replica.os_hash_algo, 'sha256');
  assert.equal(replica.os_hash_value, source.os_hash_value);
});

test('one call to three regions makes three jobs; five images in one call make five jobs; refusals come with reasons', async (t) => {
  const d = await startTestDeployment(t, ['north-1', 'south-1', 'west-1', 'east-1']);
  const imageId = await uploadImage(d, d.demo.token, 'north-1', pseudoRandom(3 * MiB, 1), { name: 'fan' });
  const fan = await requestReplication(d.url('north-1'), d.demo.token, imageId, {
    regions: ['south-1', 'west-1', 'east-1'],
    agency_name: 'ferry_copy',
  });
  assert.equal(fan.status, 200, JSON.stringify(fan.body));
  assert.equal(fan.body.jobs.length, 3);
  assert.deepEqual(fan.body.jobs.map((j: { region: string }) => j.region).sort(), [
    'east-1',
    'south-1',
    'west-1',
  ]);
  for (const started of fan.body.jobs) {
    const job = await waitForJob(d.url('north-1'), d.demo.token, started.job_id);
    assert.equal(job.status, 'SUCCESS');
    const image = await api(
      d.url(started.region),
      d.demo.token,
      'GET',
      `/v2/images/${job.entities.image_id}`,
    );
    assert.equal(image.body.status, 'active');
  }

  const images: string[] = [];
  for (let i = 0; i < 5; i++)
    images.push(
      await uploadImage(d, d.demo.token, 'north-1', pseudoRandom(MiB + i, 10 + i), { name: `many-${i}` }),
    );
  const iso = await api(d.url('north-1'), d.demo.token, 'POST', '/v2/images', {
    name: 'disc',
    disk_format: 'iso',
    container_format: 'bare',
  });
  const batch = await api(d.url('north-1'), d.demo.token, 'POST', '/v1/cloudimages/cross_region_copy', {
    image_ids: [...images, iso.body.id, '00000000-0000-4000-8000-000000000000'],
    region: 'west-1',
    agency_name: 'ferry_copy',
  });
  assert.equal(batch.status, 200, JSON.stringify(batch.body));
  assert.equal(batch.body.jobs.length, 5);
  assert.deepEqual(
    batch.body.refused.map((r: { image_id: string; error: { code: string } }) => [r.image_id, r.error.code]),
    [
      [iso.body.id, 'REPLICATION_ISO'],
      ['00000000-0000-4000-8000-000000000000', 'IMAGE_NOT_FOUND'],
    ],
  );
  const allRefused = async (imageIds: string[]) =>
    api(d.url('north-1'), d.demo.token, 'POST', '/v1/cloudimages/cross_region_copy', {
      image_ids: imageIds,
      region: 'west-1',
      agency_name: 'ferry_copy',
    });
  const mixed = await allRefused([iso.body.id, '00000000-0000-4000-8000-000000000000']);
  assert.equal(mixed.status, 400);
  assert.equal(mixed.body.error.code, 'REPLICATION_REFUSED', 'refused for different reasons');
  assert.equal(mixed.body.error.details.refused.length, 2);
  const isoOnly = await allRefused([iso.body.id]);
  assert.equal(isoOnly.body.error.code, 'REPLICATION_ISO', 'refused for one reason: its code');
  for (const started of batch.body.jobs) {
    assert.equal((await waitForJob(d.url('north-1'), d.demo.token, started.job_id)).status, 'SUCCESS');
  }
  const list = await api(d.url('north-1'), d.demo.token, 'GET', '/v1/cloudimages/jobs?status=SUCCESS');
  assert.equal(list.body.jobs.length, 8);
  // Pages of 3 filtered by status, followed by their next links, give the same 8 jobs in the same order.
  const paged: string[] = [];
  for (let next = '/v1/cloudimages/jobs?status=SUCCESS&limit=3'; ;) {
    const page = await api(d.url('north-1'), d.demo.token, 'GET', next);
    assert.equal(page.status, 200, JSON.stringify(page.body));
    paged.push(...page.body.jobs.map((j: { job_id: string }) => j.job_id));
    if (page.body.next === undefined) break;
    next = page.body.next;
  }
  assert.deepEqual(
    paged,
    list.body.jobs.map((j: { job_id: string }) => j.job_id),
  );
  const foreign = await api(
    d.url('north-1'),
    d.other.token,
    'GET',
    `/v1/cloudimages/jobs?marker=${paged[0]}`,
  );
  assert.equal(foreign.status, 400, "another account's job is no marker");
  const westImages = await api(d.url('west-1'), d.demo.token, 'GET', '/v2/images');
  assert.equal(westImages.body.images.length, 6);
});

test('the multi-image call takes no name: each replica gets its default name, or name_prefix and its source name', async (t) => {
  const d = await startTestDeployment(t, ['north-1', 'south-1']);
  const north = d.url('north-1');
  const images = [
    await uploadImage(d, d.demo.token, 'north-1', pseudoRandom(MiB, 71), { name: 'web' }),
    await uploadImage(d, d.demo.token, 'north-1', pseudoRandom(MiB, 72), { name: 'db' }),
  ];
  const batch = (body: Record<string, unknown>) =>
    api(north, d.demo.token, 'POST', '/v1/cloudimages/cross_region_copy', {
      image_ids: images,
      region: 'south-1',
      agency_name: 'ferry_copy',
      ...body,
    });
  const named = await batch({ name: 'same-for-all' });
  assert.equal(named.status, 400, JSON.stringify(named.body));
  assert.equal(named.body.error.code, 'VALIDATION_FAILED');
  assert.match(named.body.error.message, /Unknown field name; this call takes .*name_prefix/);
  const both = await requestReplication(north, d.demo.token, images[0]!, {
    region: 'south-1',
    agency_name: 'ferry_copy',
    name: 'a',
    name_prefix: 'b-',
  });
  assert.equal(both.status, 400);
  assert.match(both.body.error.message, /name or name_prefix, not both/);
  assert.deepEqual(
    (await api(north, d.demo.token, 'GET', '/v1/cloudimages/jobs')).body.jobs,
    [],
    'no job yet',
  );

  const names = async (answer: { status: number; body: { jobs: Array<{ job_id: string }> } }) => {
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    const jobs = await Promise.all(answer.body.jobs.map((j) => waitForJob(north, d.demo.token, j.job_id)));
    const replicas = await Promise.all(
      jobs.map((job) => api(d.url('south-1'), d.demo.token, 'GET', `/v2/images/${job.dest_image_id}`)),
    );
    return replicas.map((r) => r.body.name as string).sort();
  };
  assert.deepEqual(await names(await batch({ name_prefix: 'dr-' })), ['dr-db', 'dr-web']);
  assert.deepEqual(await names(await batch({})), ['copy_north-1_db', 'copy_north-1_web']);
});

test('an in-region copy shares the chunks: a new image, no data copied', async (t) => {
  const d = await startTestDeployment(t, ['north-1']);
  const data = pseudoRandom(2 * MiB + 5, 7);
  const imageId = await uploadImage(d, d.demo.token, 'north-1', data, {
    name: 'orig',
    description: 'the source',
  });
  for (const name of ['', '   ', '<b>x</b>', 'tab\there', 'x'.repeat(129)]) {
    const refused = await api(d.url(), d.demo.token, 'POST', `/v1/cloudimages/${imageId}/copy`, { name });
    assert.equal(refused.status, 400, `name ${JSON.stringify(name)}: ${JSON.stringify(refused.body)}`);
    assert.equal(refused.body.error.code, 'VALIDATION_FAILED');
  }
  const copied = await api(d.url(), d.demo.token, 'POST', `/v1/cloudimages/${imageId}/copy`, {
    name: 'twin',
    cmk_id: 'key-1',
  });
  assert.equal(copied.status, 200, JSON.stringify(copied.body));
  const job = await waitForJob(d.url(), d.demo.token, copied.body.job_id);
  assert.equal(job.job_type, 'imsCopyImageInRegionJob');
  assert.equal(job.status, 'SUCCESS');
  assert.equal(job.bytes_transferred, 0);
  const twin = (await api(d.url(), d.demo.token, 'GET', `/v2/images/${job.entities.image_id}`)).body;
  assert.equal(twin.name, 'twin');
  assert.equal(twin.encrypted, true);
  assert.equal(twin.description, undefined, "a copy does not take the source's description (IMS)");
  const download = await fetch(`${d.url()}/v2/images/${twin.id}/file`, {
    headers: { 'x-auth-token': d.demo.token },
  });
  assert.ok(Buffer.from(await download.arrayBuffer()).equals(data));

  // A token of another project of the same account sees neither the images nor the jobs of this one.
  const dev = await api(d.url(), d.admin.token, 'POST', `/v1/admin/accounts/${d.demo.accountId}/projects`, {
    name: 'dev',
  });
  assert.equal(dev.status, 201, JSON.stringify(dev.body));
  const devToken = (
    await api(d.url(), d.admin.token, 'POST', `/v1/admin/users/${d.demo.userId}/tokens`, {
      project_id: dev.body.id,
    })
  ).body.secret;
  assert.deepEqual((await api(d.url(), devToken, 'GET', '/v1/cloudimages/jobs')).body.jobs, []);
  for (const [method, path] of [
    ['GET', `/v1/cloudimages/job/${job.job_id}`],
    ['POST', `/v1/cloudimages/job/${job.job_id}/cancel`],
  ] as const)
    assert.equal((await api(d.url(), devToken, method, path)).status, 404, `${method} ${path}`);
  assert.equal(
    (await api(d.url(), devToken, 'GET', `/v1/cloudimages/jobs?marker=${job.job_id}`)).status,
    400,
  );
  assert.equal((await api(d.url(), d.demo.token, 'GET', '/v1/cloudimages/jobs')).body.jobs.length, 1);
});
