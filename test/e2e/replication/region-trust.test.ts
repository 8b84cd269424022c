// Region trust (issue 20, row 9): regions over HTTPS, each with a certificate from a CA the others trust and a
// credential of its own; a region's header with another region's credential is refused; a peer whose
// certificate the CA did not sign is not spoken to; a credential rotated while a replication runs.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import { promisify } from 'node:util';
import {
  credentialSha256,
  readCredential,
  regionCredentialFile,
} from '../../../src/config/region-credential.js';
import type { DeploymentSettings } from '../../../src/config/settings.js';
import { PEER_CALLS } from '../../../src/replication/peer-api.js';
import { createRegionClient } from '../../../src/replication/region-client.js';
import { api, regionCredential, startTestDeployment } from '../../helpers/deployment.js';
import { ferryArgs } from '../../helpers/ferry-command.js';
import { startRegionProcesses } from '../../helpers/region-processes.js';
import {
  pseudoRandom,
  startReplication,
  uploadImage,
  waitForJob,
  waitForJobUntil,
} from '../../helpers/replication.js';
import { makeTestCa, trustInFetch } from '../../helpers/tls.js';
import { makeTempDir } from '../../helpers/tmp.js';

const run = promisify(execFile);
const MiB = 1024 * 1024;
const REGIONS = ['north-1', 'south-1'];

/** A region-to-region call as `region` presenting `credential`: the status (400 = past the credential check). */
async function peerCallStatus(url: string, region: string, credential: string): Promise<number> {
  const answer = await api(
    url,
    undefined,
    'POST',
    PEER_CALLS.revokeToken.path(),
    { user_id: 'u' },
    {
      'x-ferry-region': region,
      'x-ferry-region-secret': credential,
    },
  );
  return answer.status;
}

async function download(url: string, token: string, id: string): Promise<Buffer> {
  const response = await fetch(`${url}/v2/images/${id}/file`, { headers: { 'x-auth-token': token } });
  assert.equal(response.status, 200);
  return Buffer.from(await response.arrayBuffer());
}

test('two regions over HTTPS with their own certificates and credentials: a replication arrives byte-identical; another region’s credential and an untrusted CA are refused', async (t) => {
  const dir = await makeTempDir(t);
  const ca = await makeTestCa(dir, 'regions-ca');
  const wrongCa = await makeTestCa(dir, 'wrong-ca');
  await trustInFetch(ca.caFile);
  const certificates = {
    'north-1': await ca.issue('north-1'),
    'south-1': await ca.issue('south-1'),
  } as Record<string, { certFile: string; keyFile: string }>;
  const settingsOf = (region: string, peerCaFile = ca.caFile): DeploymentSettings => ({
    tls: { ...certificates[region]!, peerCaFile, peerCaOnly: true },
    replication: { pollMs: 50, retryBaseMs: 100, leaseMs: 2000 },
  });
  const p = await startRegionProcesses(t, REGIONS, (region) => settingsOf(region));
  const north = p.url('north-1');
  const south = p.url('south-1');
  assert.match(north, /^https:\/\/127\.0\.0\.1:\d+$/);
  const catalog = JSON.parse(await readFile(p.catalogFile, 'utf8'));
  assert.ok(
    !JSON.stringify(catalog).includes(await readCredential(regionCredentialFile(p.dataDir, 'north-1'))),
  );

  // A replication over HTTPS, chunk batches included: the bytes arrive as they left.
  const data = pseudoRandom(5 * MiB + 12_345, 91);
  const imageId = await uploadImage(p, p.demo.token, 'north-1', data, { name: 'tls' });
  const jobId = await startReplication(north, p.demo.token, imageId);
  const job = await waitForJob(north, p.demo.token, jobId);
  assert.equal(job.status, 'SUCCESS', JSON.stringify(job));
  assert.ok((await download(south, p.demo.token, job.entities.image_id!)).equals(data), 'byte-identical');

  // Each region is accepted with its own credential only: north-1's name with south-1's credential is a 401.
  const northCredential = await readCredential(regionCredentialFile(p.dataDir, 'north-1'));
  const southCredential = await readCredential(regionCredentialFile(p.dataDir, 'south-1'));
  assert.equal(await peerCallStatus(south, 'north-1', northCredential), 400, 'its own: past the check');
  assert.equal(await peerCallStatus(south, 'north-1', southCredential), 401, "south-1's, as north-1");
  assert.equal(await peerCallStatus(north, 'south-1', northCredential), 401, "north-1's, as south-1");
  assert.equal(
    await peerCallStatus(south, 'south-1', southCredential),
    400,
    'the catalog lists it for south-1',
  );

  // A client that trusts another CA gets nowhere, JSON calls and chunk batches alike; with the right CA it does.
  const wrongPem = await readFile(wrongCa.caFile, 'utf8');
  const rightPem = await readFile(ca.caFile, 'utf8');
  const clientWith = (peerCa: string) =>
    createRegionClient({
      self: 'south-1',
      catalog: () => catalog,
      credential: () => southCredential,
      peerCa: [peerCa],
    });
  const wrong = clientWith(wrongPem);
  t.after(() => wrong.close());
  await assert.rejects(wrong.call('north-1', 'GET', '/healthz'), /north-1 unreachable: .*certificate/);
  const receiver = { total: 0 } as never; // never reached: the connection fails first
  const batch = wrong.batchConnection('north-1', {});
  await assert.rejects(
    batch.post('/internal/v1/grants/x/chunks', {}, receiver, new AbortController().signal),
    /north-1 unreachable: .*certificate/,
  );
  batch.close();
  const right = clientWith(rightPem);
  t.after(() => right.close());
  assert.equal((await right.call<{ region: string }>('north-1', 'GET', '/healthz')).region, 'north-1');
  // Plain HTTP to an HTTPS region is no way around it: the server does not answer it.
  await assert.rejects(fetch(north.replace('https:', 'http:') + '/healthz'));

  // south-1 restarted trusting another CA: its runs fail on north-1's certificate (nothing is fetched in
  // plain), and the job is retried; back on the right CA, the same job finishes.
  await p.kill('south-1', 'SIGTERM');
  await writeFile(
    join(p.dataDir, 'settings-south-1.json'),
    JSON.stringify(settingsOf('south-1', wrongCa.caFile)),
  );
  await p.start('south-1');
  const second = pseudoRandom(3 * MiB, 92);
  const secondId = await uploadImage(p, p.demo.token, 'north-1', second, { name: 'tls-2' });
  const blocked = await startReplication(north, p.demo.token, secondId);
  const log = join(p.dataDir, 'south-1.log');
  for (let i = 0; !(await readFile(log, 'utf8')).includes('replication run failed; will retry'); i++) {
    assert.ok(i < 200, 'south-1 never tried');
    await sleep(50);
  }
  const failures = (await readFile(log, 'utf8'))
    .split('\n')
    .filter((line) => line.includes('replication run failed; will retry'));
  assert.match(failures[0]!, /certificate/, failures[0]);
  const meanwhile = (await api(north, p.demo.token, 'GET', `/v1/cloudimages/job/${blocked}`)).body;
  assert.notEqual(meanwhile.status, 'SUCCESS');
  assert.equal(meanwhile.bytes_transferred, 0);
  await p.kill('south-1', 'SIGTERM');
  await writeFile(join(p.dataDir, 'settings-south-1.json'), JSON.stringify(settingsOf('south-1')));
  await p.start('south-1');
  const finished = await waitForJob(north, p.demo.token, blocked);
  assert.equal(finished.status, 'SUCCESS', JSON.stringify(finished));
  assert.ok((await download(south, p.demo.token, finished.entities.image_id!)).equals(second));
});

test('a credential rotated while a replication runs: the job finishes; once the rotation is finished the old credential is refused', async (t) => {
  const d = await startTestDeployment(t, REGIONS, { trustCheckMs: 100 });
  const south = d.regions.find((r) => r.name === 'south-1')!;
  const credentialFile = regionCredentialFile(d.dataDir, 'south-1');
  const old = await regionCredential(d, 'south-1');
  const rotate = (...extra: string[]) =>
    run(process.execPath, [
      ...ferryArgs('region', 'credential', 'rotate', '--catalog', d.catalogFile, '--region', 'south-1'),
      '--credential-file',
      credentialFile,
      ...extra,
    ]);

  // 6 MiB at 1 MiB/s: south-1's worker fetches from north-1 for about six seconds.
  const data = pseudoRandom(6 * MiB, 93);
  const imageId = await uploadImage(d, d.demo.token, 'north-1', data, { name: 'rotated' });
  const north = d.url('north-1');
  const jobId = await startReplication(north, d.demo.token, imageId, {
    region: 'south-1',
    agency_name: 'ferry_copy',
    bandwidth_limit: MiB,
  });
  await waitForJobUntil(north, d.demo.token, jobId, (job) => job.bytes_transferred > 0);

  // (a) + (b): the new credential is listed, then written; south-1 presents it from its next call on.
  const rotated = await rotate();
  assert.match(rotated.stdout, /Step \(a\) done: .* lists a new credential for south-1/);
  assert.match(
    rotated.stdout,
    /Step \(c\), once every region .*\n\s+ferry region credential rotate .* --finish/,
  );
  const next = await regionCredential(d, 'south-1');
  assert.notEqual(next, old);
  const catalog = JSON.parse(await readFile(d.catalogFile, 'utf8'));
  assert.deepEqual(catalog.regions.find((r: { name: string }) => r.name === 'south-1').credential_sha256, [
    credentialSha256(old),
    credentialSha256(next),
  ]);
  for (let i = 0; south.ctx.trust.credential() !== next; i++) {
    assert.ok(i < 100, 'south-1 never took its new credential');
    await sleep(50);
  }
  const during = (await api(north, d.demo.token, 'GET', `/v1/cloudimages/job/${jobId}`)).body;
  assert.ok(during.bytes_transferred < data.length, 'the job was still running when the credential changed');
  // A second rotation before this one is finished is refused.
  await assert.rejects(rotate(), /a rotation is not finished\. Finish it first: .* --finish/);
  // Both credentials are accepted meanwhile.
  assert.equal(await peerCallStatus(north, 'south-1', old), 400);
  assert.equal(await peerCallStatus(north, 'south-1', next), 400);

  const job = await waitForJob(north, d.demo.token, jobId);
  assert.equal(job.status, 'SUCCESS', JSON.stringify(job));
  assert.equal(job.attempts, 1, 'one run, across the rotation');
  assert.ok((await download(d.url('south-1'), d.demo.token, job.entities.image_id!)).equals(data));

  // (c): the old hash goes; north-1 refuses the old credential once it has read the catalog again.
  const finished = await rotate('--finish');
  assert.match(finished.stdout, /Step \(c\) done: .* lists [0-9a-f]{12}… alone for south-1/);
  for (let i = 0; (await peerCallStatus(north, 'south-1', old)) !== 401; i++) {
    assert.ok(i < 100, 'north-1 still accepts the old credential');
    await sleep(50);
  }
  assert.equal(await peerCallStatus(north, 'south-1', next), 400, 'the new one is accepted');
  // And replication goes on with the new credential.
  const again = await startReplication(
    north,
    d.demo.token,
    await uploadImage(d, d.demo.token, 'north-1', data.subarray(0, MiB)),
  );
  assert.equal((await waitForJob(north, d.demo.token, again)).status, 'SUCCESS');
  assert.match((await rotate('--finish')).stdout, /nothing to do/);
});
