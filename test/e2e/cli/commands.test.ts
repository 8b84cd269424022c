// The rest of the API through the CLI: image metadata, tags, deletion, sharing, jobs, regions and the
// administrator's identity commands, each checked against what the API itself says.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { api, startTestDeployment } from '../../helpers/deployment.js';
import { pseudoRandom } from '../../helpers/replication.js';
import { corruptStoredChunk, regionBlobs } from '../../helpers/stored-chunks.js';
import { createCliSession, parseJson } from './cli-session.js';

const MiB = 1024 * 1024;

test('image list, show, update, tag, copy, deactivate and delete; members; jobs; regions', async (t) => {
  const d = await startTestDeployment(t, ['north-1', 'south-1']);
  const cli = await createCliSession(t, d);
  const other = await createCliSession(t, d);
  const north = d.url('north-1');
  const file = join(cli.dir, 'base.raw');
  await writeFile(file, pseudoRandom(2 * MiB, 5));

  const id = (
    await cli.run([
      'image',
      'create',
      'base',
      '--file',
      file,
      '--tag',
      'gold',
      '--property',
      'os_distro=debian',
      '-q',
    ])
  ).stdout.trim();
  assert.match(id, /^[0-9a-f-]{36}$/);

  const list = await cli.run(['image', 'list']);
  assert.equal(list.code, 0, list.stderr);
  assert.match(list.stdout, /^ID\s+Name\s+Status\s+Format\s+Size\s+Visibility$/m);
  assert.match(list.stdout, new RegExp(`^${id}\\s+base\\s+active\\s+raw\\s+2\\.00 MiB\\s+shared$`, 'm'));
  const listed = parseJson(await cli.run(['image', 'list', '--tag', 'gold', '-o', 'json']));
  assert.deepEqual(listed, (await api(north, d.demo.token, 'GET', '/v2/images?tag=gold')).body.images);
  assert.equal((await cli.run(['image', 'list', '--name', 'nothing', '-q'])).stdout, '');

  const shown = await cli.run(['image', 'show', 'base']);
  assert.match(shown.stdout, /^os_distro\s+debian$/m, 'by name, properties included');
  assert.match(shown.stdout, /^size\s+2097152 \(2\.00 MiB\)$/m);

  const updated = parseJson(
    await cli.run([
      'image',
      'update',
      id,
      '--name',
      'base-2',
      '--property',
      'os_version=12',
      '--remove-property',
      'os_distro',
      '--protected',
      '-o',
      'json',
    ]),
  );
  assert.equal(updated.name, 'base-2');
  assert.equal(updated.os_version, '12');
  assert.equal(updated.os_distro, undefined);
  assert.equal(updated.protected, true);
  const refused = await cli.run(['image', 'delete', id]);
  assert.equal(refused.code, 3);
  assert.match(refused.stderr, /^ferry: IMAGE_PROTECTED: /);
  const nothing = await cli.run(['image', 'update', id]);
  assert.equal(nothing.code, 2);

  const tagged = parseJson(await cli.run(['image', 'tag', 'add', id, 'a', 'b', '-o', 'json']));
  assert.deepEqual([...tagged.tags].sort(), ['a', 'b', 'gold']);
  assert.deepEqual(parseJson(await cli.run(['image', 'tag', 'remove', id, 'a', '-o', 'json'])).tags.sort(), [
    'b',
    'gold',
  ]);

  // Sharing: the other account's project in north-1 is a member; it accepts and copies the image.
  const otherProject = d.other.projects['north-1']!;
  await other.run(['configure', '--token', d.other.token]);
  const added = await cli.run(['member', 'add', id, otherProject, '-o', 'json']);
  assert.equal(added.code, 0, added.stderr);
  assert.equal(parseJson(added)[0].status, 'pending');
  const accepted = await other.run(['member', 'accept', id, '-o', 'json']);
  assert.equal(accepted.code, 0, accepted.stderr);
  assert.equal(parseJson(accepted)[0].status, 'accepted');
  assert.match((await cli.run(['member', 'list', id])).stdout, new RegExp(`${otherProject}\\s+accepted`));
  const copy = await other.run(['image', 'copy', id, '--name', 'mine', '--wait', '-q']);
  assert.equal(copy.code, 0, copy.stderr);
  const copied = (await api(north, d.other.token, 'GET', `/v2/images/${copy.stdout.trim()}`)).body;
  assert.equal(copied.name, 'mine');
  assert.equal(copied.owner, otherProject);
  const removed = await cli.run(['member', 'remove', id, otherProject]);
  assert.equal(removed.code, 0, removed.stderr);
  assert.deepEqual(parseJson(await cli.run(['member', 'list', id, '-o', 'json'])), []);

  // Jobs: the copy shows in the other account's list, and can be shown.
  const jobs = parseJson(await other.run(['job', 'list', '--type', 'in-region', '-o', 'json']));
  assert.equal(jobs.length, 1);
  const job = parseJson(await other.run(['job', 'show', jobs[0].job_id, '-o', 'json']));
  assert.deepEqual(job, (await api(north, d.other.token, 'GET', `/v1/cloudimages/job/${job.job_id}`)).body);
  const missing = await cli.run(['job', 'show', 'nope']);
  assert.equal(missing.code, 3);
  assert.match(missing.stderr, /^ferry: JOB_NOT_FOUND: /);

  // Status actions, then deletion of several images with one refusal among them.
  assert.equal((await cli.run(['image', 'update', id, '--unprotected', '-q'])).code, 0);
  assert.equal((await cli.run(['image', 'deactivate', id])).code, 0);
  assert.equal((await api(north, d.demo.token, 'GET', `/v2/images/${id}`)).body.status, 'deactivated');
  assert.equal((await cli.run(['image', 'reactivate', id])).code, 0);
  const deleted = await cli.run(['image', 'delete', id, '00000000-0000-0000-0000-000000000000']);
  assert.equal(deleted.code, 3);
  assert.match(deleted.stdout, new RegExp(`Deleted image ${id}\\.`));
  assert.match(deleted.stderr, /00000000-0000-0000-0000-000000000000: IMAGE_NOT_FOUND: /);
  assert.equal((await api(north, d.demo.token, 'GET', `/v2/images/${id}`)).status, 404);

  const regions = await cli.run(['region', 'list']);
  assert.match(regions.stdout, /^\*\s+north-1\s+North 1\s+http:\/\/127\.0\.0\.1:\d+\s+ok\s+south-1$/m);
  assert.match(regions.stdout, /^\s+south-1\s+South 1\s+http:\/\/127\.0\.0\.1:\d+\s+ok\s+north-1$/m);
  assert.match(regions.stdout, /Replicates to/);
  assert.equal((await cli.run(['region', 'list', '-q'])).stdout, 'north-1\nsouth-1\n');
  const limits = parseJson(await cli.run(['limits', '-o', 'json']));
  assert.deepEqual(limits, (await api(north, d.demo.token, 'GET', '/v1/limits')).body);
  assert.match(
    (await cli.run(['limits'])).stdout,
    /replications running per user\s+5 \(across all regions\)/,
  );
  const csv = await fetch(`${north}/v1/usage?format=csv`, { headers: { 'x-auth-token': d.demo.token } });
  assert.equal((await cli.run(['usage', '--csv'])).stdout, await csv.text());
  const usage = parseJson(await cli.run(['usage', '-o', 'json']));
  assert.deepEqual(usage, (await api(north, d.demo.token, 'GET', '/v1/usage')).body.usage);
  assert.match((await cli.run(['usage'])).stdout, /^Day\s+Kind\s+To\s+Bytes\s+Cost$/m);
  const me = parseJson(await cli.run(['whoami', '--region', 'south-1', '-o', 'json']));
  assert.equal(me.region, 'south-1');
  assert.equal(me.project.name, 'south-1');
});

test('admin commands: accounts and users in every region, projects, tokens that work, agencies', async (t) => {
  const d = await startTestDeployment(t, ['north-1', 'south-1']);
  const admin = await createCliSession(t, d);
  await admin.run(['configure', '--token', d.admin.token]);

  const account = parseJson(await admin.run(['admin', 'account', 'create', 'acme', '-o', 'json']));
  assert.deepEqual(account.regions, ['north-1', 'south-1']);
  const user = parseJson(await admin.run(['admin', 'user', 'create', 'acme', 'alice', '-o', 'json']));
  const projects = parseJson(await admin.run(['admin', 'project', 'create', 'acme', '-o', 'json']));
  assert.deepEqual(
    projects.map((p: { name: string; region: string }) => `${p.name}@${p.region}`),
    ['north-1@north-1', 'south-1@south-1'],
  );
  for (const region of ['north-1', 'south-1']) {
    const shown = parseJson(
      await admin.run(['admin', 'account', 'show', 'acme', '--region', region, '-o', 'json']),
    );
    assert.equal(shown.id, account.id, `same account id in ${region}`);
    assert.deepEqual(
      shown.users.map((u: { id: string }) => u.id),
      [user.id],
    );
  }
  assert.match((await admin.run(['admin', 'account', 'list'])).stdout, /acme/);

  const secret = (
    await admin.run([
      'admin',
      'token',
      'create',
      '--account',
      'acme',
      '--user',
      'alice',
      '--region',
      'south-1',
      '-q',
    ])
  ).stdout.trim();
  const alice = await createCliSession(t, d, 'south-1');
  await alice.run(['configure', '--token', secret]);
  const me = parseJson(await alice.run(['whoami', '-o', 'json']));
  assert.equal(me.user.name, 'alice');
  assert.equal(me.project.name, 'south-1');
  // Issued in south-1, the token works in north-1 too (in alice's project there), so an agency made with it
  // is made in every region.
  const inNorth = parseJson(await alice.run(['whoami', '--region', 'north-1', '-o', 'json']));
  assert.equal(inNorth.project.name, 'north-1');
  const hers = await alice.run(['admin', 'agency', 'create', 'mine', '--allow', 'all', '-o', 'json']);
  assert.equal(hers.code, 0, hers.stderr);

  const own = parseJson(await alice.run(['admin', 'token', 'create', '--description', 'ci', '-o', 'json']));
  assert.equal(own.description, 'ci');
  assert.match((await alice.run(['admin', 'token', 'list'])).stdout, /ci/);
  assert.equal((await alice.run(['admin', 'token', 'revoke', own.id])).code, 0);
  const revoked = await alice.run(['whoami', '--token', own.secret]);
  assert.equal(revoked.code, 3);
  assert.match(revoked.stderr, /^ferry: UNAUTHORIZED: /);

  // Agencies are made in every region: with a token that works in every region (a provisioned one).
  const agency = await admin.run(['admin', 'agency', 'create', 'copier', '--allow', 'all', '-o', 'json']);
  assert.equal(agency.code, 0, agency.stderr);
  for (const region of ['north-1', 'south-1']) {
    const view = await api(d.url(region), d.admin.token, 'GET', '/v1/agencies/copier');
    assert.deepEqual(
      view.body.policies.map((p: { region: string }) => p.region),
      ['north-1', 'south-1'],
      `in ${region}`,
    );
  }
  assert.equal((await admin.run(['admin', 'agency', 'delete', 'copier', '--regions', 'south-1'])).code, 0);
  assert.equal((await api(d.url('south-1'), d.admin.token, 'GET', '/v1/agencies/copier')).status, 404);
  assert.equal((await api(d.url('north-1'), d.admin.token, 'GET', '/v1/agencies/copier')).status, 200);

  const forbidden = await alice.run(['admin', 'account', 'list']);
  assert.equal(forbidden.code, 3);
  assert.match(forbidden.stderr, /^ferry: FORBIDDEN: /);
});

test('admin runtime: memory and the event loop over a window that --reset restarts; admins only', async (t) => {
  const d = await startTestDeployment(t, ['north-1']);
  const admin = await createCliSession(t, d);
  await admin.run(['configure', '--token', d.admin.token]);
  const shown = await admin.run(['admin', 'runtime']);
  assert.equal(shown.code, 0, shown.stderr);
  assert.match(shown.stdout, /^Process \d+, up \d+ s: RSS [\d.]+ MiB, JavaScript heap /m);
  assert.match(shown.stdout, /^Event loop since \S+: longest stall [\d.]+ ms, p99 [\d.]+ ms/m);
  const reset = await admin.run(['admin', 'runtime', '--reset', '-o', 'json']);
  assert.equal(reset.code, 0, reset.stderr);
  const ended = JSON.parse(reset.stdout);
  assert.equal(ended.pid, process.pid); // the test deployment's regions run in this process
  const after = JSON.parse((await admin.run(['admin', 'runtime', '-o', 'json'])).stdout);
  assert.ok(Date.parse(after.event_loop_delay.since) >= Date.parse(ended.event_loop_delay.since));

  const user = await createCliSession(t, d);
  await user.run(['configure', '--token', d.demo.token]);
  const forbidden = await user.run(['admin', 'runtime']);
  assert.notEqual(forbidden.code, 0);
  assert.match(forbidden.stderr, /^ferry: FORBIDDEN: /);
});

test('admin storage: gc, and a scrub that exits 5 when it finds a damaged chunk', async (t) => {
  const d = await startTestDeployment(t, ['north-1']);
  const admin = await createCliSession(t, d);
  await admin.run(['configure', '--token', d.admin.token]);
  const north = d.url('north-1');
  const data = pseudoRandom(2 * MiB, 9);
  const created = await api(north, d.demo.token, 'POST', '/v2/images', {
    name: 'scrubbed',
    disk_format: 'raw',
    container_format: 'bare',
  });
  const id: string = created.body.id;
  const put = await api(north, d.demo.token, 'PUT', `/v2/images/${id}/file`, data, {
    'content-type': 'application/octet-stream',
  });
  assert.equal(put.status, 204);

  const clean = await admin.run(['admin', 'storage', 'scrub']);
  assert.equal(clean.code, 0, clean.stderr);
  assert.match(clean.stdout, /^Checked 2 chunks \(2\.00 MiB\)\.$/m);
  assert.match(clean.stdout, /^Damaged images: none$/m);

  const digest = createHash('sha256').update(data.subarray(MiB)).digest('hex');
  await corruptStoredChunk(regionBlobs(d, 'north-1'), digest, 5, 1);
  const found = await admin.run(['admin', 'storage', 'scrub', '--rate', '100MiB', '-o', 'json']);
  assert.equal(found.code, 5, found.stderr);
  const report = parseJson(found);
  assert.deepEqual(report.corruptChunks, [digest]);
  assert.deepEqual(report.damagedImages, [id]);
  assert.match(found.stderr, /damaged data/);

  const gc = parseJson(await admin.run(['admin', 'storage', 'gc', '--grace', '0', '-o', 'json']));
  assert.deepEqual(Object.keys(gc).sort(), [
    'bytesDeleted',
    'bytesReclaimed',
    'chunksDeleted',
    'chunksKept',
    'manifestsDeleted',
    'packsCompacted',
  ]);
  assert.equal(gc.chunksKept, 1, 'the image still references its intact chunk');
  assert.equal((await admin.run(['admin', 'storage', 'gc', '--grace', 'soon'])).code, 2);
  const user = await createCliSession(t, d);
  assert.equal((await user.run(['admin', 'storage', 'scrub'])).code, 3, 'administrators only');
});
