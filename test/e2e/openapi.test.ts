// The OpenAPI document each region serves: valid OpenAPI 3, open without a token, and covering every public
// route with a summary and a tag (a route added without them fails here).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import SwaggerParser from '@apidevtools/swagger-parser';
import { Ajv } from 'ajv';
import { documentedRoutes } from '../../src/api/openapi.js';
import { api, startTestDeployment } from '../helpers/deployment.js';

interface Operation {
  summary?: string;
  tags?: string[];
  parameters?: Array<{ name: string; in: string }>;
  requestBody?: { content: Record<string, { schema: { properties?: Record<string, unknown> } }> };
}

test('GET /openapi.json is valid OpenAPI 3 and documents every public route', async (t) => {
  const d = await startTestDeployment(t, ['north-1']);
  const response = await fetch(`${d.url()}/openapi.json`); // no token
  assert.equal(response.status, 200);
  const doc = (await response.json()) as {
    openapi: string;
    paths: Record<string, Record<string, Operation>>;
  };
  assert.match(doc.openapi, /^3\./);
  await SwaggerParser.validate(structuredClone(doc) as never);

  const routes = documentedRoutes(d.regions[0]!.app);
  assert.ok(routes.length >= 50, `${routes.length} routes`);
  for (const route of routes) {
    const [method, url] = route.split(' ') as [string, string];
    const path = url.replace(/:([A-Za-z_]+)/g, '{$1}');
    const operation = doc.paths[path]?.[method.toLowerCase()];
    assert.ok(operation !== undefined, `${route} is in the document`);
    assert.ok(operation.summary && operation.summary.length > 0, `${route} has a summary`);
    assert.ok(operation.tags && operation.tags.length > 0, `${route} has a tag`);
  }
  assert.ok(
    !Object.keys(doc.paths).some((path) => path.startsWith('/internal/')),
    'region-to-region calls are not in the public document',
  );
  assert.ok(
    !Object.keys(doc.paths).some((path) => path.startsWith('/console')),
    'the console’s pages are not API calls',
  );

  // The schemas the routes validate with are the ones documented.
  const copy = doc.paths['/v1/cloudimages/{id}/cross_region_copy']!.post!;
  const fields = Object.keys(copy.requestBody!.content['application/json']!.schema.properties!);
  assert.deepEqual(fields.sort(), [
    'agency_name',
    'bandwidth_limit',
    'client_token',
    'description',
    'name',
    'name_prefix',
    'project_name',
    'region',
    'regions',
    'share_with',
    'vault_id',
  ]);
  const jobs = doc.paths['/v1/cloudimages/jobs']!.get!;
  assert.deepEqual(jobs.parameters!.map((p) => `${p.in}:${p.name}`).sort(), [
    'query:image_id',
    'query:job_type',
    'query:limit',
    'query:marker',
    'query:status',
  ]);
});

test('a request that breaks a route schema is a 400 naming the field, and a repeated query parameter too', async (t) => {
  const d = await startTestDeployment(t, ['north-1']);
  const id = '00000000-0000-0000-0000-000000000000';
  const cases: Array<[string, string, unknown, RegExp]> = [
    ['POST', `/v1/cloudimages/${id}/cross_region_copy`, { region: 'south-1' }, /agency_name is required/],
    ['POST', `/v1/cloudimages/${id}/cross_region_copy`, [1], /must be a JSON object/],
    [
      'POST',
      `/v1/cloudimages/${id}/copy`,
      { name: '<b>' },
      /name must be 1 to 128 characters, not all blank, without <, > or control characters/,
    ],
    [
      'POST',
      '/v1/cloudimages/cross_region_copy',
      { image_ids: [], agency_name: 'a', region: 'r' },
      /image_ids/,
    ],
    ['GET', '/v1/cloudimages/jobs?limit=0', undefined, /limit must be an integer from 1 to 1000/],
    ['GET', '/v1/cloudimages/jobs?status=DONE', undefined, /status must be one of INIT, RUNNING/],
    ['GET', '/v1/cloudimages/jobs?image_id=a&image_id=b', undefined, /image_id may be given once/],
    ['GET', '/v1/cloudimages/jobs?marker=a&marker=b', undefined, /marker may be given once/],
  ];
  for (const [method, path, body, message] of cases) {
    const answer = await api(d.url(), d.demo.token, method, path, body);
    assert.equal(answer.status, 400, `${method} ${path}: ${JSON.stringify(answer.body)}`);
    assert.equal(answer.body.error.code, 'VALIDATION_FAILED');
    assert.match(answer.body.error.message, message, `${method} ${path}`);
  }
  // Without a token, the answer is 401 before the body is looked at.
  const anonymous = await fetch(`${d.url()}/v1/cloudimages/${id}/cross_region_copy`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{"bogus": 1}',
  });
  assert.equal(anonymous.status, 401);
});

test('the answers match the wire shapes the document gives them', async (t) => {
  const d = await startTestDeployment(t, ['north-1']);
  const doc = (await (await fetch(`${d.url()}/openapi.json`)).json()) as {
    paths: Record<
      string,
      Record<string, { responses: Record<string, { content?: Record<string, { schema: object }> }> }>
    >;
  };
  const ajv = new Ajv({ strict: false });
  const check = (path: string, method: string, status: number, body: unknown) => {
    const schema = doc.paths[path]![method]!.responses[String(status)]!.content!['application/json']!.schema;
    assert.ok(
      ajv.validate(schema, body),
      `${method} ${path}: ${ajv.errorsText()} in ${JSON.stringify(body)}`,
    );
  };
  const created = await api(d.url(), d.demo.token, 'POST', '/v2/images', {
    name: 'shaped',
    disk_format: 'raw',
    container_format: 'bare',
    visibility: 'shared',
    colour: 'blue',
    tags: ['a'],
  });
  assert.equal(created.status, 201);
  check('/v2/images', 'post', 201, created.body);
  const id = created.body.id as string;
  check('/v2/images/{id}', 'get', 200, (await api(d.url(), d.demo.token, 'GET', `/v2/images/${id}`)).body);
  check('/v2/images', 'get', 200, (await api(d.url(), d.demo.token, 'GET', '/v2/images')).body);
  const member = await api(d.url(), d.demo.token, 'POST', `/v2/images/${id}/members`, {
    member: d.other.projects['north-1']!,
  });
  assert.equal(member.status, 200, JSON.stringify(member.body));
  check('/v2/images/{id}/members', 'post', 200, member.body);
  check(
    '/v2/images/{id}/members',
    'get',
    200,
    (await api(d.url(), d.demo.token, 'GET', `/v2/images/${id}/members`)).body,
  );
  check(
    '/v1/cloudimages/jobs',
    'get',
    200,
    (await api(d.url(), d.demo.token, 'GET', '/v1/cloudimages/jobs')).body,
  );
  // A shape that does not fit is refused: the check can fail.
  assert.ok(
    !ajv.validate(doc.paths['/v2/images/{id}']!.get!.responses['200']!.content!['application/json']!.schema, {
      id,
    }),
  );
});
