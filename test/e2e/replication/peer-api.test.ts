// The region-to-region API as a peer meets it: credentials are checked before the body is read, and every
// body is checked against replication/peer-api.ts's schemas, so a bad one is a 400 and writes nothing.
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { test } from 'node:test';
import { PEER_CALLS } from '../../../src/replication/peer-api.js';
import { findJob } from '../../../src/store/jobs.js';
import { api, regionCredential, startTestDeployment } from '../../helpers/deployment.js';
import { pseudoRandom, requestReplication, uploadImage, waitForJob } from '../../helpers/replication.js';
import { TEST_TLS } from '../../helpers/tls.js';

test('peer bodies are schema-checked: a bad replica request or job state is a 400 and changes nothing', async (t) => {
  const d = await startTestDeployment(t, ['north-1', 'south-1']);
  const asNorth = {
    'x-ferry-region': 'north-1',
    'x-ferry-region-secret': await regionCredential(d, 'north-1'),
  };
  const asSouth = {
    'x-ferry-region': 'south-1',
    'x-ferry-region-secret': await regionCredential(d, 'south-1'),
  };
  const south = d.url('south-1');
  const north = d.url('north-1');

  for (const body of [null, {}, { job_id: 'a'.repeat(32) }, [1]]) {
    const refused = await api(south, undefined, 'POST', PEER_CALLS.createReplica.path(), body, asNorth);
    assert.equal(refused.status, 400, JSON.stringify(body));
    assert.equal(refused.body.error.code, 'VALIDATION_FAILED');
  }

  // A finished job: a bogus state pushed for it is refused, and the job keeps its own.
  const imageId = await uploadImage(d, d.demo.token, 'north-1', pseudoRandom(2 * 1024 * 1024, 5), {
    name: 'peer',
  });
  const started = await requestReplication(north, d.demo.token, imageId, {
    region: 'south-1',
    agency_name: 'ferry_copy',
  });
  assert.equal(started.status, 200, JSON.stringify(started.body));
  const jobId = started.body.job_id as string;
  assert.equal((await waitForJob(north, d.demo.token, jobId)).status, 'SUCCESS');
  const northCtx = d.regions.find((r) => r.name === 'north-1')!.ctx;
  const before = await findJob(northCtx.db, jobId);
  for (const body of [{ status: 'BOGUS' }, { job_id: jobId, status: 'BOGUS' }, null]) {
    const refused = await api(north, undefined, 'POST', PEER_CALLS.jobState.path(jobId), body, asSouth);
    assert.equal(refused.status, 400, JSON.stringify(body));
    assert.equal(refused.body.error.code, 'VALIDATION_FAILED');
  }
  assert.deepEqual(await findJob(northCtx.db, jobId), before, 'the job is as it was');
  const revoke = await api(
    north,
    undefined,
    'POST',
    PEER_CALLS.revokeToken.path(),
    { user_id: 'u' },
    asSouth,
  );
  assert.equal(revoke.status, 400);
});

// A raw plain-HTTP socket: under FERRY_TEST_TLS the same refusal before the body is slow-clients.test.ts's.
const rawSocket = { skip: TEST_TLS && 'speaks plain HTTP on a raw socket (slow-clients.test.ts covers TLS)' };

test('a peer call without region credentials is refused before its body arrives', rawSocket, async (t) => {
  const d = await startTestDeployment(t, ['north-1']);
  const { port } = new URL(d.url());
  const answer = await new Promise<string>((resolve, reject) => {
    const socket = connect(Number(port), '127.0.0.1');
    let text = '';
    socket.on('data', (data) => (text += data.toString('latin1')));
    socket.on('error', reject);
    socket.on('close', () => resolve(text));
    socket.write(
      `POST ${PEER_CALLS.copyToken.path()} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n` +
        'Content-Length: 100000\r\n\r\n{"us',
    );
    // The body never comes: the answer must not wait for it.
    setTimeout(() => {
      socket.destroy();
      resolve(text);
    }, 3000).unref();
  });
  assert.match(answer, /^HTTP\/1\.1 401 /, answer.slice(0, 80));
  assert.match(answer, /UNAUTHORIZED/);
});
