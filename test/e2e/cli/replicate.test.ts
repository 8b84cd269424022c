// `ferry image create` and `ferry image replicate --wait` against real regions on loopback: JSON that matches
// the API, bars on a terminal and plain lines in a pipe, Ctrl-C that cancels or leaves the jobs, and every
// refusal printed with its code and exit 3.
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { api, startTestDeployment } from '../../helpers/deployment.js';
import { makeImage } from '../../helpers/qemu.js';
import { pseudoRandom, waitForJob } from '../../helpers/replication.js';
import { createCliSession, finished, parseJson, waitForOutput } from './cli-session.js';

const MiB = 1024 * 1024;
const REGIONS = ['north-1', 'south-1', 'west-1'];

/** Escape sequences a terminal program writes to move the cursor and redraw lines. */
// eslint-disable-next-line no-control-regex -- matching terminal control sequences is the point
const ESCAPE = /\x1b\[/;

test('image create --file, then replicate --to south-1 --to west-1 --wait: both replicas active, JSON matches the API', async (t) => {
  const d = await startTestDeployment(t, REGIONS);
  const cli = await createCliSession(t, d);
  const disk = await makeImage(cli.dir, 'qcow2', 64 * MiB, { randomData: 3 * MiB, name: 'disk.qcow2' });

  const created = await cli.run(['image', 'create', '--file', disk, '--output', 'json']);
  assert.equal(created.code, 0, created.stderr);
  const image = parseJson(created);
  const fromApi = await api(d.url('north-1'), d.demo.token, 'GET', `/v2/images/${image.id}`);
  assert.deepEqual(image, fromApi.body, 'the CLI prints the API’s image');
  assert.equal(image.name, 'disk');
  assert.equal(image.disk_format, 'qcow2', 'detected from the file');
  assert.equal(image.status, 'active');

  const replicated = await cli.run([
    'image',
    'replicate',
    'disk',
    '--to',
    'south-1',
    '--to',
    'west-1',
    '--wait',
    '-o',
    'json',
  ]);
  assert.equal(replicated.code, 0, replicated.stderr);
  const answer = parseJson(replicated);
  assert.deepEqual(answer.refused, []);
  assert.deepEqual(answer.jobs.map((j: { dest_region: string }) => j.dest_region).sort(), [
    'south-1',
    'west-1',
  ]);
  for (const job of answer.jobs) {
    assert.equal(job.status, 'SUCCESS');
    const view = await api(d.url('north-1'), d.demo.token, 'GET', `/v1/cloudimages/job/${job.job_id}`);
    assert.deepEqual(job, view.body, 'the CLI prints the API’s job');
    const replica = await api(d.url(job.dest_region), d.demo.token, 'GET', `/v2/images/${job.dest_image_id}`);
    assert.equal(replica.body.status, 'active');
    assert.equal(replica.body.checksum, image.checksum);
  }

  // The quiet form prints the new images' IDs, one a line; the table form ends with the summary.
  const quiet = await cli.run(['image', 'replicate', image.id, '--to', 'south-1', '--wait', '--quiet']);
  assert.equal(quiet.code, 0, quiet.stderr);
  const [newId] = quiet.stdout.trim().split('\n');
  assert.equal(
    (await api(d.url('south-1'), d.demo.token, 'GET', `/v2/images/${newId}`)).body.status,
    'active',
  );
  const table = await cli.run(['image', 'replicate', image.id, '--to', 'west-1', '--wait']);
  assert.equal(table.code, 0, table.stderr);
  assert.match(table.stdout, /^Region\s+Status\s+Image\s+Size\s+Sent\s+Skipped\s+Time\s+Rate/m);
  assert.match(table.stdout, /^west-1\s+SUCCESS\s+[0-9a-f-]{36}\s/m);
});

test('replicate --wait draws a bar per destination on a terminal and plain lines in a pipe', async (t) => {
  const d = await startTestDeployment(t, REGIONS);
  const cli = await createCliSession(t, d);
  // Two images of different data: a second replication of the same one would find every chunk present.
  for (const [name, seed] of [
    ['random', 7],
    ['other', 8],
  ] as const) {
    const file = join(cli.dir, `${name}.raw`);
    await writeFile(file, pseudoRandom(12 * MiB, seed));
    const created = await cli.run(['image', 'create', name, '--file', file, '--quiet']);
    assert.equal(created.code, 0, created.stderr);
  }

  // 12 MiB at 4 MiB/s per destination: about 3 s, enough for several redraws.
  const inTerminal = cli.startInTerminal([
    'image',
    'replicate',
    'random',
    '--to',
    'south-1,west-1',
    '--bandwidth',
    '4MiB',
    '--wait',
  ]);
  inTerminal.stdin.end();
  const terminal = await finished(inTerminal);
  assert.equal(terminal.code, 0, terminal.stdout);
  const screen = terminal.stdout;
  assert.match(screen, /south-1 [█░]{30} +\d+% \| [\d.]+ [KM]iB\/12\.0 MiB \|/, 'a bar for south-1');
  assert.match(screen, /west-1 {2}[█░]{30} +\d+% \|/, 'a bar for west-1');
  assert.match(screen, /█{5,}░+ +[1-9]\d% \|/, 'a bar part-way, drawn from the job’s progress');
  assert.match(screen, /MiB\/s \| ETA \d+s/, 'rate and ETA');
  assert.match(screen, /█{30} +100% \|/, 'full bars at the end');
  assert.match(screen, ESCAPE, 'redrawn in place');
  assert.match(screen, /south-1\s+SUCCESS\s+[0-9a-f-]{36}\s+12\.0 MiB\s+12\.0 MiB/, 'the summary table');

  const piped = await cli.run([
    'image',
    'replicate',
    'other',
    '--to',
    'south-1',
    '--to',
    'west-1',
    '--bandwidth',
    '4MiB',
    '--wait',
  ]);
  assert.equal(piped.code, 0, piped.stderr);
  assert.doesNotMatch(piped.stderr, ESCAPE, 'no terminal codes in a pipe');
  assert.doesNotMatch(piped.stderr, /[█░]/, 'no bars in a pipe');
  const lines = piped.stderr.trim().split('\n');
  for (const region of ['south-1', 'west-1']) {
    const own = lines.filter((l) => l.startsWith(region));
    assert.ok(own.length >= 3, `several plain lines for ${region}: ${piped.stderr}`);
    assert.match(own.at(-1)!, /100% {2}12\.0 MiB\/12\.0 MiB .* SUCCESS$/);
    assert.ok(
      own.some((l) => /^\S+ +[1-9]\d% {2}[\d.]+ MiB\/12\.0 MiB {2}[\d.]+ [KM]iB\/s {2}ETA \d+s$/.test(l)),
      own.join('\n'),
    );
  }
  assert.match(piped.stdout, /^west-1\s+SUCCESS/m, 'the summary on stdout');
});

test('Ctrl-C while waiting asks, and cancels the jobs on yes; with --on-interrupt leave they keep running', async (t) => {
  const d = await startTestDeployment(t, REGIONS);
  const cli = await createCliSession(t, d);
  const file = join(cli.dir, 'random.raw');
  await writeFile(file, pseudoRandom(16 * MiB, 9));
  const id = (await cli.run(['image', 'create', 'slow', '--file', file, '-q'])).stdout.trim();

  const child = cli.startInTerminal([
    'image',
    'replicate',
    id,
    '--to',
    'south-1',
    '--to',
    'west-1',
    '--bandwidth',
    '1MiB',
    '--wait',
  ]);
  const done = finished(child);
  await waitForOutput(child, /west-1 {2}[█░]{30} +\d+%/);
  child.stdin.write('\x03'); // Ctrl-C, as the terminal sends it
  await waitForOutput(child, /Cancel 2 unfinished job\(s\).*\[y\/N\]/);
  child.stdin.write('y\r');
  const result = await done;
  assert.equal(result.code, 130, result.stdout);
  assert.match(result.stdout, /cancelled 2 job\(s\)/);
  const jobs = (await api(d.url('north-1'), d.demo.token, 'GET', '/v1/cloudimages/jobs')).body.jobs;
  assert.deepEqual(
    jobs.map((j: { status: string }) => j.status),
    ['CANCELLED', 'CANCELLED'],
  );

  // Without a terminal to ask on, --on-interrupt leave: exit 130, the job keeps running; job cancel stops it.
  const piped = cli.start([
    'image',
    'replicate',
    id,
    '--to',
    'south-1',
    '--bandwidth',
    '1MiB',
    '--wait',
    '--on-interrupt',
    'leave',
  ]);
  const pipedDone = finished(piped);
  await new Promise<void>((resolve) => piped.stderr.once('data', () => resolve()));
  piped.kill('SIGINT');
  const left = await pipedDone;
  assert.equal(left.code, 130, left.stderr);
  const jobId = /ferry job wait ([0-9a-f]{32})/.exec(left.stderr)?.[1];
  assert.ok(jobId, left.stderr);
  const running = await api(d.url('north-1'), d.demo.token, 'GET', `/v1/cloudimages/job/${jobId}`);
  assert.ok(['INIT', 'RUNNING'].includes(running.body.status), running.body.status);
  const cancelled = await cli.run(['job', 'cancel', jobId, '-o', 'json']);
  assert.equal(cancelled.code, 0, cancelled.stderr);
  assert.equal(parseJson(cancelled)[0].status, 'CANCELLED');
  assert.equal((await waitForJob(d.url('north-1'), d.demo.token, jobId)).status, 'CANCELLED');
  // Again, with a job that does not exist: the ended one is shown with a warning, the unknown one fails.
  const unknown = 'f'.repeat(32);
  const again = await cli.run(['job', 'cancel', jobId, unknown]);
  assert.equal(again.code, 3, again.stderr);
  assert.match(again.stderr, new RegExp(`job ${jobId} had already ended \\(CANCELLED\\)`));
  assert.match(again.stderr, /JOB_NOT_FOUND/);
  assert.match(again.stdout, new RegExp(jobId));
});

test('each refused replication prints its code and message and exits 3', async (t) => {
  const d = await startTestDeployment(t, REGIONS);
  const cli = await createCliSession(t, d);
  const file = join(cli.dir, 'small.raw');
  await writeFile(file, pseudoRandom(MiB, 3));
  const id = (await cli.run(['image', 'create', 'small', '--file', file, '-q'])).stdout.trim();
  const iso = (await cli.run(['image', 'create', 'disc', '--disk-format', 'iso', '-q'])).stdout.trim();

  const cases: Array<[string[], string, string | undefined]> = [
    [[id, '--to', 'north-1'], 'REPLICATION_SAME_REGION', 'IMG.0142'],
    [[iso, '--to', 'south-1'], 'REPLICATION_ISO', undefined],
    [[id, '--to', 'south-1', '--agency', 'ghost'], 'REPLICATION_AGENCY_INVALID', 'IMG.0151'],
    [[id, '--to', 'mars-1'], 'REPLICATION_REGION_NOT_ALLOWED', 'IMG.0147'],
    [[id, '--to', 'south-1', '--project', 'nope'], 'REPLICATION_PROJECT_NOT_FOUND', 'IMG.0145'],
  ];
  for (const [args, code, ims] of cases) {
    const result = await cli.run(['image', 'replicate', ...args]);
    assert.equal(result.code, 3, `${code}: ${result.stderr}`);
    assert.equal(result.stdout, '');
    const expected = `ferry: ${code}${ims ? ` (IMS ${ims})` : ''}: `;
    assert.ok(result.stderr.startsWith(expected), `${expected} in ${result.stderr}`);
    assert.ok(result.stderr.length > expected.length + 10, 'with the API’s message');

    const json = await cli.run(['image', 'replicate', ...args, '--output', 'json']);
    assert.equal(json.code, 3);
    const error = JSON.parse(json.stderr).error;
    assert.equal(error.code, code);
    assert.equal(error.ims_code, ims);
    assert.equal(typeof error.message, 'string');
  }

  // Partly refused: the allowed job starts, the refusal is printed, and the command exits 3.
  const partly = await cli.run([
    'image',
    'replicate',
    id,
    '--to',
    'south-1',
    '--to',
    'north-1',
    '-o',
    'json',
  ]);
  assert.equal(partly.code, 3, partly.stderr);
  const answer = parseJson(partly);
  assert.equal(answer.jobs.length, 1);
  assert.equal(answer.refused[0].error.code, 'REPLICATION_SAME_REGION');
  assert.match(
    partly.stderr,
    /refused: image [0-9a-f-]{36} to north-1: REPLICATION_SAME_REGION \(IMS IMG\.0142\): /,
  );
  await waitForJob(d.url('north-1'), d.demo.token, answer.jobs[0].job_id);

  // --client-token: a retried command gets the first command's job back.
  const once = ['image', 'replicate', id, '--to', 'west-1', '--client-token', 'cli-retry', '-o', 'json'];
  const firstTry = parseJson(await cli.run(once));
  assert.deepEqual(parseJson(await cli.run(once)).jobs, firstTry.jobs);
  await waitForJob(d.url('north-1'), d.demo.token, firstTry.jobs[0].job_id);

  // A usage error exits 2, without calling the API.
  const usage = await cli.run(['image', 'replicate', id]);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /required option '--to <region>'/);
  // One --name for several images would give every replica the same name.
  const oneName = await cli.run(['image', 'replicate', id, id, '--to', 'south-1', '--name', 'x']);
  assert.equal(oneName.code, 2);
  assert.match(oneName.stderr, /--name names one image: with several, use --name-prefix/);
});

test('vault create, image create --whole-server --disk --disk --vault, replicate --vault, image download --disk: byte-identical', async (t) => {
  const d = await startTestDeployment(t, ['north-1', 'south-1']);
  const cli = await createCliSession(t, d);
  const system = await makeImage(cli.dir, 'qcow2', 64 * MiB, {
    randomData: 2 * MiB + 3,
    name: 'system.qcow2',
  });
  const data = await makeImage(cli.dir, 'qcow2', 32 * MiB, { randomData: MiB + 5, name: 'data.qcow2' });

  const vault = await cli.run(['vault', 'create', 'servers', '--protection', 'backup', '--size', '1', '-q']);
  assert.equal(vault.code, 0, vault.stderr);
  const vaultId = vault.stdout.trim();
  const created = await cli.run([
    'image',
    'create',
    'web-server',
    '--whole-server',
    '--disk',
    system,
    '--disk',
    data,
    '--vault',
    vaultId,
    '-o',
    'json',
  ]);
  assert.equal(created.code, 0, created.stderr);
  const image = parseJson(created);
  assert.equal(image.image_type, 'full-server');
  // Only the whole-server image is left: the disk images were removed once their backups held the data.
  const listed = parseJson(await cli.run(['image', 'list', '-o', 'json']));
  assert.deepEqual(
    listed.map((i: { name: string }) => i.name),
    ['web-server'],
  );
  const disks = parseJson(await cli.run(['image', 'disks', 'web-server', '-o', 'json']));
  assert.deepEqual(
    disks.map((b: { disk_index: number; vault_id: string }) => [b.disk_index, b.vault_id]),
    [
      [0, vaultId],
      [1, vaultId],
    ],
  );

  const arrivals = await cli.run([
    '--region',
    'south-1',
    'vault',
    'create',
    'arrivals',
    '--protection',
    'replication',
    '-q',
  ]);
  const replicated = await cli.run([
    'image',
    'replicate',
    'web-server',
    '--to',
    'south-1',
    '--vault',
    arrivals.stdout.trim(),
    '--wait',
    '-o',
    'json',
  ]);
  assert.equal(replicated.code, 0, replicated.stderr);
  const job = parseJson(replicated).jobs[0];
  assert.equal(job.status, 'SUCCESS');
  const out = join(cli.dir, 'disk1.qcow2');
  const downloaded = await cli.run([
    '--region',
    'south-1',
    'image',
    'download',
    job.dest_image_id,
    '--disk',
    '1',
    '--file',
    out,
  ]);
  assert.equal(downloaded.code, 0, downloaded.stderr);
  assert.deepEqual(await readFile(out), await readFile(data));
  // Without --vault the refusal is printed with its code.
  const refused = await cli.run(['image', 'replicate', 'web-server', '--to', 'south-1']);
  assert.equal(refused.code, 3);
  assert.match(refused.stderr, /REPLICATION_FULL_SERVER_NEEDS_VAULT/);
});
