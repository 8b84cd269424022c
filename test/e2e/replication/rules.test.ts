// The product rules of cross-region replication: every refusal has its code (IMS's too where IMS has one)
// and a message saying what to do, and creates nothing; the source image is locked while a job reads it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { api, JSON_PATCH, startTestDeployment } from '../../helpers/deployment.js';
import { pseudoRandom, requestReplication, uploadImage, waitForJob } from '../../helpers/replication.js';

const MiB = 1024 * 1024;

test('each replication rule refuses with its code, and nothing is created', async (t) => {
  const d = await startTestDeployment(t, ['north-1', 'south-1', 'west-1'], {
    limits: { maxImageBytes: 4 * MiB, maxRunningJobsPerUser: 5 },
  });
  const north = d.url('north-1');
  const token = d.demo.token;
  const ok = await uploadImage(d, token, 'north-1', pseudoRandom(MiB, 1), { name: 'ok' });
  const big = await uploadImage(d, token, 'north-1', pseudoRandom(5 * MiB, 2), { name: 'big' });
  const encrypted = await uploadImage(d, token, 'north-1', pseudoRandom(MiB, 3), {
    name: 'enc',
    cmk_id: 'kms-key-1',
  });
  const frozen = await uploadImage(d, token, 'north-1', pseudoRandom(MiB, 4), { name: 'frozen' });
  assert.equal((await api(north, d.admin.token, 'POST', `/v2/images/${frozen}/actions/freeze`)).status, 204);
  const queued = (
    await api(north, token, 'POST', '/v2/images', { name: 'q', disk_format: 'raw', container_format: 'bare' })
  ).body.id;
  const iso = (
    await api(north, token, 'POST', '/v2/images', {
      name: 'disc',
      disk_format: 'iso',
      container_format: 'bare',
    })
  ).body.id;
  const others = await uploadImage(d, d.other.token, 'north-1', pseudoRandom(MiB, 5), { name: 'theirs' });
  // Take west-1 out of north-1's allowed destinations.
  const catalog = d.regions[0]!.ctx.catalog;
  catalog.replication_pairs = catalog.replication_pairs.filter(
    ([from, to]) => !(from === 'north-1' && to === 'west-1'),
  );
  const noPolicy = await api(north, token, 'POST', '/v1/agencies', {
    name: 'north-only',
    policies: [{ region: 'north-1', policy: 'CrossCopyAgencyPolicy' }],
  });
  assert.equal(noPolicy.status, 201);

  const base = { region: 'south-1', agency_name: 'ferry_copy' };
  const cases: Array<[string, string, Record<string, unknown>, number, string, string | undefined]> = [
    ['ISO image', iso, base, 400, 'REPLICATION_ISO', undefined],
    ['encrypted image', encrypted, base, 400, 'REPLICATION_ENCRYPTED', 'IMG.0143'],
    ['frozen image', frozen, base, 400, 'REPLICATION_FROZEN', undefined],
    ['queued image', queued, base, 400, 'REPLICATION_IMAGE_UNAVAILABLE', 'IMG.0046'],
    ['too large', big, base, 400, 'REPLICATION_TOO_LARGE', 'IMG.0146'],
    ['same region', ok, { ...base, region: 'north-1' }, 400, 'REPLICATION_SAME_REGION', 'IMG.0142'],
    [
      'pair not allowed',
      ok,
      { ...base, region: 'west-1' },
      400,
      'REPLICATION_REGION_NOT_ALLOWED',
      'IMG.0147',
    ],
    ['unknown region', ok, { ...base, region: 'mars-1' }, 400, 'REPLICATION_REGION_NOT_ALLOWED', 'IMG.0147'],
    [
      'unknown project',
      ok,
      { ...base, project_name: 'nope' },
      400,
      'REPLICATION_PROJECT_NOT_FOUND',
      'IMG.0145',
    ],
    ['missing agency', ok, { ...base, agency_name: 'ghost' }, 400, 'REPLICATION_AGENCY_INVALID', 'IMG.0151'],
    [
      'agency without the policy there',
      ok,
      { ...base, agency_name: 'north-only' },
      400,
      'REPLICATION_AGENCY_INVALID',
      'IMG.0151',
    ],
    ["another account's image", others, base, 404, 'IMAGE_NOT_FOUND', undefined],
    ['no agency named', ok, { region: 'south-1' }, 400, 'VALIDATION_FAILED', undefined],
  ];
  for (const [what, imageId, body, status, code, ims] of cases) {
    const response = await requestReplication(north, token, imageId, body);
    assert.equal(response.status, status, `${what}: ${JSON.stringify(response.body)}`);
    // IMS's shape on IMS's routes: its code in `code` where it has one, Ferry's in `ferry_code`.
    assert.equal(response.body.error.code, ims ?? code, what);
    assert.equal(response.body.error.ferry_code, code, what);
    assert.equal(response.body.error.ims_code, undefined, what);
    assert.ok(response.body.error.message.length > 20, `${what} says what to do`);
  }
  assert.deepEqual(
    (await api(north, token, 'GET', '/v1/cloudimages/jobs')).body.jobs,
    [],
    'no job was created',
  );
  for (const region of ['south-1', 'west-1']) {
    assert.deepEqual(
      (await api(d.url(region), token, 'GET', '/v2/images')).body.images,
      [],
      `nothing in ${region}`,
    );
  }

  // One image to several regions, refused for different reasons: REPLICATION_REFUSED, each reason listed.
  const mixed = await requestReplication(north, token, ok, {
    ...base,
    regions: ['north-1', 'mars-1'],
    region: undefined,
  });
  assert.equal(mixed.status, 400, JSON.stringify(mixed.body));
  assert.equal(mixed.body.error.code, 'REPLICATION_REFUSED');
  assert.deepEqual(
    mixed.body.error.details.refused.map(
      (r: { region: string; error: { code: string; ferry_code: string } }) => [
        r.region,
        r.error.code,
        r.error.ferry_code,
      ],
    ),
    [
      ['north-1', 'IMG.0142', 'REPLICATION_SAME_REGION'],
      ['mars-1', 'IMG.0147', 'REPLICATION_REGION_NOT_ALLOWED'],
    ],
  );
  // A misspelt field is refused, not ignored (here it would have meant an uncapped copy).
  const typo = await requestReplication(north, token, ok, {
    ...base,
    bandwith_limit: 1024 * 1024,
  });
  assert.equal(typo.status, 400);
  assert.equal(typo.body.error.code, 'VALIDATION_FAILED');
  assert.match(typo.body.error.message, /bandwith_limit/);
  const typoMany = await api(north, token, 'POST', '/v1/cloudimages/cross_region_copy', {
    ...base,
    image_ids: [ok],
    image_id: ok,
  });
  assert.equal(typoMany.body.error.code, 'VALIDATION_FAILED');
  assert.match(typoMany.body.error.message, /image_id\b/);
  assert.deepEqual((await api(north, token, 'GET', '/v1/cloudimages/jobs')).body.jobs, [], 'still no job');

  // An in-region copy refuses the same images with the same codes, and creates nothing.
  const inRegion: Array<[string, string, Record<string, unknown>, string]> = [
    ['ISO image', iso, { name: 'c' }, 'REPLICATION_ISO'],
    ['frozen image', frozen, { name: 'c' }, 'REPLICATION_FROZEN'],
    ['queued image', queued, { name: 'c' }, 'REPLICATION_IMAGE_UNAVAILABLE'],
    ['too large', big, { name: 'c' }, 'REPLICATION_TOO_LARGE'],
    ['unknown field', ok, { name: 'c', kms_key: 'k' }, 'VALIDATION_FAILED'],
  ];
  const before = (await api(north, token, 'GET', '/v2/images')).body.images.length;
  for (const [what, imageId, body, code] of inRegion) {
    const response = await api(north, token, 'POST', `/v1/cloudimages/${imageId}/copy`, body);
    assert.equal(response.status, 400, `in-region ${what}: ${JSON.stringify(response.body)}`);
    assert.equal(response.body.error.ferry_code, code, `in-region ${what}`);
  }
  const accepted = await api(north, token, 'POST', `/v1/cloudimages/${ok}/copy`, {
    name: 'c',
    enterprise_project_id: '0',
  });
  assert.equal(accepted.status, 200, 'IMS clients send enterprise_project_id');
  assert.equal((await api(north, token, 'GET', '/v2/images')).body.images.length, before + 1);
});

test('a sixth concurrent replication is refused (IMG.0149); the source is locked while a job reads it', async (t) => {
  const d = await startTestDeployment(t, ['north-1', 'south-1']);
  const north = d.url('north-1');
  const token = d.demo.token;
  const jobs: string[] = [];
  const images: string[] = [];
  for (let i = 0; i < 6; i++)
    images.push(await uploadImage(d, token, 'north-1', pseudoRandom(2 * MiB, 20 + i), { name: `slow-${i}` }));
  // A bandwidth cap keeps the first five running while the sixth is asked for.
  for (let i = 0; i < 5; i++) {
    const started = await requestReplication(north, token, images[i]!, {
      region: 'south-1',
      agency_name: 'ferry_copy',
      bandwidth_limit: 256 * 1024,
    });
    assert.equal(started.status, 200, JSON.stringify(started.body));
    jobs.push(started.body.job_id);
  }
  const sixth = await requestReplication(north, token, images[5]!, {
    region: 'south-1',
    agency_name: 'ferry_copy',
  });
  assert.equal(sixth.status, 400);
  assert.equal(sixth.body.error.code, 'IMG.0149');
  assert.equal(sixth.body.error.ferry_code, 'REPLICATION_LIMIT_REACHED');

  const deleting = await api(north, token, 'DELETE', `/v2/images/${images[0]}`);
  assert.equal(deleting.status, 409);
  assert.equal(deleting.body.error.code, 'IMAGE_IN_USE');
  const patching = await api(
    north,
    token,
    'PATCH',
    `/v2/images/${images[0]}`,
    [{ op: 'replace', path: '/name', value: 'x' }],
    JSON_PATCH,
  );
  assert.equal(patching.status, 409);
  assert.equal((await api(north, token, 'PUT', `/v2/images/${images[0]}/tags/x`)).status, 409, 'tags too');

  // The destination lists the replicas as replicating, with progress.
  const south = await api(d.url('south-1'), token, 'GET', '/v2/images');
  assert.equal(south.body.images.length, 5);
  for (const image of south.body.images) {
    assert.equal(image.status, 'saving');
    assert.equal(image.replication.replicating, true);
    assert.ok(image.replication.process_percent >= 0 && image.replication.process_percent < 1);
  }

  await api(north, token, 'POST', `/v1/cloudimages/job/${jobs[0]}/cancel`);
  const retried = await requestReplication(north, token, images[5]!, {
    region: 'south-1',
    agency_name: 'ferry_copy',
  });
  assert.equal(retried.status, 200, 'a slot freed up');
  assert.equal((await waitForJob(north, token, retried.body.job_id)).status, 'SUCCESS');
  assert.equal(
    (await api(north, token, 'DELETE', `/v2/images/${images[0]}`)).status,
    204,
    'unlocked once the job ended',
  );
});

test('requests sent at once cannot start more jobs than the limit allows', async (t) => {
  const d = await startTestDeployment(t, ['north-1', 'south-1']);
  const north = d.url('north-1');
  const token = d.demo.token;
  const images: string[] = [];
  for (let i = 0; i < 8; i++)
    images.push(
      await uploadImage(d, token, 'north-1', pseudoRandom(2 * MiB, 40 + i), { name: `burst-${i}` }),
    );
  const answers = await Promise.all(
    images.map((id) =>
      requestReplication(north, token, id, {
        region: 'south-1',
        agency_name: 'ferry_copy',
        bandwidth_limit: 128 * 1024, // keeps the accepted jobs running
      }),
    ),
  );
  const accepted = answers.filter((a) => a.status === 200);
  const refused = answers.filter((a) => a.status !== 200);
  assert.equal(accepted.length, 5, answers.map((a) => a.status).join(' '));
  for (const answer of refused) assert.equal(answer.body.error.ferry_code, 'REPLICATION_LIMIT_REACHED');
  const jobs = (await api(north, token, 'GET', '/v1/cloudimages/jobs')).body.jobs;
  assert.equal(jobs.length, 5, 'nothing is left of the refused requests');
  const replicas = (await api(d.url('south-1'), token, 'GET', '/v2/images')).body.images;
  assert.equal(replicas.length, 5);
  for (const answer of accepted) {
    await api(north, token, 'POST', `/v1/cloudimages/job/${answer.body.job_id}/cancel`);
    assert.equal((await waitForJob(north, token, answer.body.job_id)).status, 'CANCELLED');
  }
});

test('at the limit, the source asks the destination: a job that ended unreported frees its slot', async (t) => {
  const d = await startTestDeployment(t, ['north-1', 'south-1']);
  const north = d.url('north-1');
  const token = d.demo.token;
  const images: string[] = [];
  for (let i = 0; i < 7; i++)
    images.push(
      await uploadImage(d, token, 'north-1', pseudoRandom(2 * MiB, 61 + 2 * i), { name: `r-${i}` }),
    );
  const ended = await requestReplication(north, token, images[0]!, {
    region: 'south-1',
    agency_name: 'ferry_copy',
  });
  assert.equal((await waitForJob(north, token, ended.body.job_id)).status, 'SUCCESS');
  for (let i = 1; i < 5; i++) {
    const started = await requestReplication(north, token, images[i]!, {
      region: 'south-1',
      agency_name: 'ferry_copy',
      bandwidth_limit: 128 * 1024, // keeps them running
    });
    assert.equal(started.status, 200, JSON.stringify(started.body));
  }
  // The source's row as a lost final report leaves it: still running, five unfinished as far as it knows.
  await d.regions[0]!.ctx.db.updateTable('jobs')
    .set({ status: 'RUNNING' })
    .where('id', '=', ended.body.job_id)
    .execute();
  const sixth = await requestReplication(north, token, images[5]!, {
    region: 'south-1',
    agency_name: 'ferry_copy',
    bandwidth_limit: 128 * 1024,
  });
  assert.equal(sixth.status, 200, `south-1 says the first job ended: ${JSON.stringify(sixth.body)}`);
  const first = await api(north, token, 'GET', `/v1/cloudimages/job/${ended.body.job_id}`);
  assert.equal(first.body.status, 'SUCCESS', 'the source learnt it too');
  const seventh = await requestReplication(north, token, images[6]!, {
    region: 'south-1',
    agency_name: 'ferry_copy',
  });
  assert.equal(seventh.status, 400, 'five are running now');
  assert.equal(seventh.body.error.ferry_code, 'REPLICATION_LIMIT_REACHED');
  for (const job of (await api(north, token, 'GET', '/v1/cloudimages/jobs')).body.jobs)
    if (job.status === 'RUNNING' || job.status === 'INIT')
      await api(north, token, 'POST', `/v1/cloudimages/job/${job.job_id}/cancel`);
});

test('a job whose chunks take longer than its lease keeps the lease: one run, no takeover', async (t) => {
  const d = await startTestDeployment(t, ['north-1', 'south-1'], { leaseMs: 1000 });
  const north = d.url('north-1');
  const token = d.demo.token;
  const id = await uploadImage(d, token, 'north-1', pseudoRandom(2 * MiB, 60), { name: 'capped' });
  // 512 KiB/s: the second 1 MiB chunk comes ~2 s after the first, twice the lease.
  const started = await requestReplication(north, token, id, {
    region: 'south-1',
    agency_name: 'ferry_copy',
    bandwidth_limit: 512 * 1024,
  });
  assert.equal(started.status, 200, JSON.stringify(started.body));
  const job = await waitForJob(north, token, started.body.job_id);
  assert.equal(job.status, 'SUCCESS', JSON.stringify(job));
  assert.equal(job.attempts, 1, 'the run was never taken over by a second one');
  const tooSlow = await requestReplication(north, token, id, {
    region: 'south-1',
    agency_name: 'ferry_copy',
    bandwidth_limit: 1024,
  });
  assert.equal(tooSlow.status, 400);
  assert.match(tooSlow.body.error.message, /from 131072 \(128 KiB\/s\)/);
});

test('an account an administrator made region by region replicates into a project only the destination knows', async (t) => {
  const d = await startTestDeployment(t, ['north-1', 'south-1']);
  const admin = d.admin.token;
  const ids = { account: 'ac'.repeat(16), user: 'bd'.repeat(16) };
  const tokens: Record<string, string> = {};
  // As `ferry admin account/user/project create` does: the same account and user in every region, and each
  // region's project made through that region's own API, so north-1 never hears of south-1's project.
  for (const region of ['north-1', 'south-1']) {
    const url = d.url(region);
    assert.equal(
      (await api(url, admin, 'POST', '/v1/admin/accounts', { id: ids.account, name: 'acme' })).status,
      201,
    );
    const user = await api(url, admin, 'POST', `/v1/admin/accounts/${ids.account}/users`, {
      id: ids.user,
      name: 'bob',
    });
    assert.equal(user.status, 201);
    const project = await api(url, admin, 'POST', `/v1/admin/accounts/${ids.account}/projects`, {
      name: region,
    });
    assert.equal(project.status, 201);
    const token = await api(url, admin, 'POST', `/v1/admin/users/${ids.user}/tokens`, {
      project_id: project.body.id,
    });
    tokens[region] = token.body.secret;
    const agency = await api(url, tokens[region]!, 'POST', '/v1/agencies', {
      name: 'copier',
      policies: [{ region: 'south-1', policy: 'CrossCopyAgencyPolicy' }],
    });
    assert.equal(agency.status, 201, JSON.stringify(agency.body));
  }
  // The token issued in north-1 works in south-1 too, in the project named after south-1.
  const again = await api(d.url('north-1'), admin, 'POST', `/v1/admin/users/${ids.user}/tokens`, {
    project_id: (await api(d.url('north-1'), tokens['north-1']!, 'GET', '/v1/auth/whoami')).body.project.id,
  });
  assert.deepEqual(again.body.regions, ['north-1', 'south-1']);
  const inSouth = await api(d.url('south-1'), again.body.secret, 'GET', '/v1/auth/whoami');
  assert.equal(inSouth.body.project.name, 'south-1');
  const north = d.url('north-1');
  const id = await uploadImage(d, tokens['north-1']!, 'north-1', pseudoRandom(MiB, 70), { name: 'acme-img' });
  const started = await requestReplication(north, tokens['north-1']!, id, {
    region: 'south-1',
    agency_name: 'copier',
  });
  assert.equal(started.status, 200, JSON.stringify(started.body));
  assert.equal((await waitForJob(north, tokens['north-1']!, started.body.job_id)).status, 'SUCCESS');
  const replicas = (await api(d.url('south-1'), tokens['south-1']!, 'GET', '/v2/images')).body.images;
  assert.deepEqual(
    replicas.map((i: { name: string }) => i.name),
    ['copy_north-1_acme-img'],
  );
  const unknown = await requestReplication(north, tokens['north-1']!, id, {
    region: 'south-1',
    agency_name: 'copier',
    project_name: 'no-such-project',
  });
  assert.equal(unknown.status, 400);
  assert.equal(unknown.body.error.code, 'IMG.0145');
  assert.equal(unknown.body.error.ferry_code, 'REPLICATION_PROJECT_NOT_FOUND');
});

test('the limit of five counts every region; a region that cannot be asked refuses the sixth (fails closed)', async (t) => {
  const d = await startTestDeployment(t, ['north-1', 'south-1', 'west-1']);
  const north = d.url('north-1');
  const south = d.url('south-1');
  const token = d.demo.token;
  const jobs: string[] = [];
  for (let i = 0; i < 5; i++) {
    const image = await uploadImage(d, token, 'north-1', pseudoRandom(2 * MiB, 90 + i), { name: `n-${i}` });
    const started = await requestReplication(north, token, image, {
      region: 'south-1',
      agency_name: 'ferry_copy',
      bandwidth_limit: 128 * 1024, // keeps them running
    });
    assert.equal(started.status, 200, JSON.stringify(started.body));
    jobs.push(started.body.job_id);
  }
  const fromSouth = await uploadImage(d, token, 'south-1', pseudoRandom(MiB, 99), { name: 's' });
  const sixth = await requestReplication(south, token, fromSouth, {
    region: 'west-1',
    agency_name: 'ferry_copy',
  });
  assert.equal(sixth.status, 400, JSON.stringify(sixth.body));
  assert.equal(sixth.body.error.code, 'IMG.0149');
  assert.equal(sixth.body.error.ferry_code, 'REPLICATION_LIMIT_REACHED');
  assert.match(sixth.body.error.message, /5 cross-region replications running across all regions/);
  assert.deepEqual((await api(south, token, 'GET', '/v1/cloudimages/jobs')).body.jobs, [], 'nothing started');

  await api(north, token, 'POST', `/v1/cloudimages/job/${jobs[0]}/cancel`);
  const freed = await requestReplication(south, token, fromSouth, {
    region: 'west-1',
    agency_name: 'ferry_copy',
  });
  assert.equal(freed.status, 200, 'a slot freed up in north-1');
  assert.equal((await waitForJob(south, token, freed.body.job_id)).status, 'SUCCESS');

  // north-1 stops: south-1 cannot count the user's replications there, so it starts none (fails closed).
  await d.regions.find((r) => r.name === 'north-1')!.close();
  const unknown = await requestReplication(south, token, fromSouth, {
    region: 'west-1',
    agency_name: 'ferry_copy',
  });
  assert.equal(unknown.status, 503, JSON.stringify(unknown.body));
  assert.equal(unknown.body.error.code, 'REPLICATION_LIMIT_UNKNOWN');
  assert.match(unknown.body.error.message, /north-1 cannot be asked/);
  // Into north-1 itself: the replication cannot start anyway, and says why as before.
  const intoStoppedRegion = await requestReplication(south, token, fromSouth, {
    region: 'north-1',
    agency_name: 'ferry_copy',
  });
  assert.equal(intoStoppedRegion.status, 503, JSON.stringify(intoStoppedRegion.body));
  assert.equal(intoStoppedRegion.body.error.code, 'REGION_UNREACHABLE');
  assert.equal((await api(south, token, 'GET', '/v1/cloudimages/jobs')).body.jobs.length, 1, 'no new job');
});
