// Issue 20, rows 3 to 7: input is checked at the edge, on SQLite and PostgreSQL alike. A NUL character
// anywhere, a repeated query parameter, a malformed region-to-region body, control characters in image
// metadata and an unbounded bandwidth cap are each a 400 with a code, never a 500 and never stored.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { dialects } from '../../helpers/db.js';
import { api, regionCredential, startTestDeployment } from '../../helpers/deployment.js';
import { pseudoRandom, requestReplication, uploadImage } from '../../helpers/replication.js';
import { REGION_HEADER, REGION_SECRET_HEADER } from '../../../src/replication/region-call.js';

const PATCH = { 'content-type': 'application/openstack-images-v2.1-json-patch' };

for (const { name: dialect, skip } of dialects()) {
  describe(`input checked at the edge on ${dialect}`, { skip }, () => {
    test('a NUL character anywhere is a 400 with a code (row 3)', async (t) => {
      const d = await startTestDeployment(t, ['north-1'], {}, {}, {}, dialect);
      const url = d.url();
      const token = d.demo.token;
      const image = await api(url, token, 'POST', '/v2/images', { name: 'plain' });
      assert.equal(image.status, 201);
      const id = image.body.id as string;
      const cases: Array<[string, string, unknown?]> = [
        ['POST', '/v2/images', { name: 'a\u0000b' }],
        ['POST', '/v2/images', { name: 'x', colour: 'bl\u0000ue' }],
        ['POST', '/v2/images', { name: 'x', 'col\u0000our': 'blue' }],
        ['PUT', `/v2/images/${id}/tags/%00`],
        ['GET', '/v2/images/%00'],
        ['GET', '/v2/images?name=%00'],
        ['GET', '/v1/agencies/%00'],
        ['DELETE', '/v1/tokens/%00'],
        ['POST', `/v2/images/${id}/members`, { member: '\u0000' }],
        ['GET', '/v1/cloudimages/jobs?image_id=%00'],
      ];
      for (const [method, path, body] of cases) {
        const answer = await api(url, token, method, path, body);
        assert.equal(answer.status, 400, `${method} ${path}: ${JSON.stringify(answer.body)}`);
        assert.equal(answer.body.error.code, 'VALIDATION_FAILED', `${method} ${path}`);
      }
      const patched = await api(
        url,
        token,
        'PATCH',
        `/v2/images/${id}`,
        [{ op: 'add', path: '/colour', value: 'a\u0000' }],
        PATCH,
      );
      assert.equal(patched.status, 400);
      const shown = await api(url, token, 'GET', `/v2/images/${id}`);
      assert.equal(shown.body.colour, undefined, 'nothing stored');
      assert.deepEqual(shown.body.tags, []);
    });

    test('a repeated query parameter is a 400 (row 4); a bandwidth cap is bounded (row 7)', async (t) => {
      const d = await startTestDeployment(t, ['north-1', 'south-1'], {}, {}, {}, dialect);
      const url = d.url();
      for (const query of ['image_id=a&image_id=b', 'marker=a&marker=b', 'status=SUCCESS&status=FAILED']) {
        const answer = await api(url, d.demo.token, 'GET', `/v1/cloudimages/jobs?${query}`);
        assert.equal(answer.status, 400, `${query}: ${JSON.stringify(answer.body)}`);
        assert.equal(answer.body.error.code, 'VALIDATION_FAILED');
      }
      const id = await uploadImage(d, d.demo.token, 'north-1', pseudoRandom(64 * 1024, 3));
      for (const limit of [1e308, 2 ** 53, 1e12]) {
        const answer = await requestReplication(url, d.demo.token, id, {
          region: 'south-1',
          agency_name: 'ferry_copy',
          bandwidth_limit: limit,
        });
        assert.equal(answer.status, 400, `${limit}: ${JSON.stringify(answer.body)}`);
        assert.match(answer.body.error.message, /bandwidth_limit/);
      }
      const jobs = await api(url, d.demo.token, 'GET', '/v1/cloudimages/jobs');
      assert.deepEqual(jobs.body.jobs, [], 'no job was created');
    });

    test('region-to-region bodies are schema-checked (row 5)', async (t) => {
      const d = await startTestDeployment(t, ['north-1', 'south-1'], {}, {}, {}, dialect);
      const secret = await regionCredential(d, 'north-1');
      const asNorth = { [REGION_HEADER]: 'north-1', [REGION_SECRET_HEADER]: secret };
      const south = d.url('south-1');
      const call = (method: string, path: string, body: string) =>
        fetch(`${south}${path}`, {
          method,
          headers: { ...asNorth, 'content-type': 'application/json' },
          body,
        });
      // A job that runs in north-1, so that south-1 has a replica job to report on.
      const id = await uploadImage(d, d.demo.token, 'north-1', pseudoRandom(64 * 1024, 4));
      for (const body of ['null', '{}', '{"image": null}', '[]', '"text"']) {
        const answer = await call('POST', '/internal/v1/replicas', body);
        assert.equal(answer.status, 400, `replica ${body}: ${await answer.text()}`);
      }
      const north = d.url('north-1');
      const started = await requestReplication(north, d.demo.token, id, {
        region: 'south-1',
        agency_name: 'ferry_copy',
      });
      assert.equal(started.status, 200);
      const jobId = started.body.job_id as string;
      // The destination reports to the source: a status the job cannot have is refused, and not written.
      const bogus = await fetch(`${north}/internal/v1/jobs/${jobId}/state`, {
        method: 'POST',
        headers: {
          [REGION_HEADER]: 'south-1',
          [REGION_SECRET_HEADER]: await regionCredential(d, 'south-1'),
          'content-type': 'application/json',
        },
        body: JSON.stringify({ status: 'BOGUS' }),
      });
      assert.equal(bogus.status, 400, await bogus.text());
      const job = await api(north, d.demo.token, 'GET', `/v1/cloudimages/jobs/${jobId}`);
      assert.notEqual(job.body.status, 'BOGUS');
    });

    test('control characters in names, tags and properties are refused; ordinary Unicode is not (row 6)', async (t) => {
      const d = await startTestDeployment(t, ['north-1'], {}, {}, {}, dialect);
      const url = d.url();
      const token = d.demo.token;
      for (const body of [
        { name: 'a\u001b[31mred\r\nX: 1' },
        { name: 'bell\u0007' },
        { name: 'x', colour: 'blue\nX-Forged: 1' },
        { name: 'x', 'col\tour': 'blue' },
        { name: 'x', tags: ['ok', 'csi\u009b2J'] },
      ]) {
        const answer = await api(url, token, 'POST', '/v2/images', body);
        assert.equal(answer.status, 400, `${JSON.stringify(body)}: ${JSON.stringify(answer.body)}`);
        assert.match(answer.body.error.message, /control characters/);
      }
      const fine = await api(url, token, 'POST', '/v2/images', {
        name: 'Ubuntu 24.04 — golden ✓',
        colour: 'bleu ciel',
        tags: ['prod', 'été'],
      });
      assert.equal(fine.status, 201);
      const id = fine.body.id as string;
      assert.equal((await api(url, token, 'PUT', `/v2/images/${id}/tags/a%1Bb`)).status, 400);
      const renamed = await api(
        url,
        token,
        'PATCH',
        `/v2/images/${id}`,
        [{ op: 'replace', path: '/name', value: 'two\nlines' }],
        PATCH,
      );
      assert.equal(renamed.status, 400);
      const shown = await api(url, token, 'GET', `/v2/images/${id}`);
      assert.equal(shown.body.name, 'Ubuntu 24.04 — golden ✓');
      assert.deepEqual(shown.body.tags.sort(), ['prod', 'été']);
    });
  });
}
