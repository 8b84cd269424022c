// Hostile input, generated (issue 22, point 4, the route half): every route of the OpenAPI document is called
// with generated path parameters, query strings and bodies (fast-check): hostile strings, wrong types, huge
// numbers, nested JSON, and values near the valid ones (the IDs of real images, fields the route's schema
// names). Every answer is a 4xx or a 2xx with a JSON error body where it fails, never a 5xx, and arrives in
// time; on SQLite and PostgreSQL. FERRY_FUZZ_RUNS sets the calls per route (CI: 12); a failure prints the
// route and fast-check's seed.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { dialects } from '../../helpers/db.js';
import { startTestDeployment } from '../../helpers/deployment.js';
import { documentedRoutes } from '../../helpers/openapi-routes.js';
import { recordReliability } from '../../helpers/reliability.js';
import { pseudoRandom, uploadImage } from '../../helpers/replication.js';

const RUNS = Number(process.env.FERRY_FUZZ_RUNS ?? 12);
const ANSWER_WITHIN_MS = 10_000;

/** Strings that have broken services: encodings, control and format characters, long runs, SQL and paths. */
const hostileString = fc.oneof(
  fc.string(),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.constantFrom(
    '',
    ' ',
    '..',
    '../../etc/passwd',
    '%00',
    '%2e%2e%2f',
    "' or 1=1 --",
    '\u202e',
    '\ud800',
    '\u0007\u001b[31m',
    'a'.repeat(5000),
    '{}',
    'null',
    '-1',
    '1e308',
    '00000000-0000-0000-0000-000000000000',
  ),
);
const hostileValue = fc.oneof(
  hostileString,
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }).map((n) => Number(n)),
  fc.array(hostileString, { maxLength: 4 }),
  fc.jsonValue({ maxDepth: 3 }),
);

/** A body: any JSON, or an object of the route's own field names with hostile values. */
function bodyFor(fields: string[]) {
  const named =
    fields.length === 0
      ? fc.constant({})
      : fc.dictionary(fc.constantFrom(...fields), hostileValue, { maxKeys: fields.length });
  return fc.oneof(fc.jsonValue({ maxDepth: 4 }), named, named);
}

for (const { name: dialect, skip } of dialects()) {
  describe(`every route under generated input on ${dialect}`, { skip }, () => {
    test('no 5xx, no hang, whatever the path, query and body', { timeout: 600_000 }, async (t) => {
      const d = await startTestDeployment(t, ['north-1', 'south-1'], {}, {}, {}, dialect);
      const base = d.url('north-1');
      const token = d.demo.token;
      const imageId = await uploadImage(d, token, 'north-1', pseudoRandom(64 * 1024, 5), {
        visibility: 'shared',
      });
      const routes = await documentedRoutes(base);
      // encodeURIComponent refuses a lone surrogate: it cannot be in a URL at all (a body may carry one).
      const urlString = hostileString.filter((s) => !/\p{Cs}/u.test(s));
      const pathValue = fc.oneof(
        urlString.filter((s) => s.length > 0),
        fc.constantFrom(imageId, d.other.projects['north-1']!, 'south-1', 'tag'),
        fc.uuid(),
      );
      const failures: string[] = [];
      /** Answers by status class, and the slowest, for the report. */
      const answered = { '2xx': 0, '3xx': 0, '4xx': 0, slowestMs: 0 };
      for (const { method, path, pathNames, queryNames, bodyFields: fields, mediaType } of routes) {
        const call = fc.record({
          params: fc.tuple(...pathNames.map(() => pathValue)),
          query: fc.array(
            // The route's own parameters mostly, and any name (a Glance list filters on any property).
            fc.tuple(
              queryNames.length > 0 ? fc.oneof(fc.constantFrom(...queryNames), urlString) : urlString,
              urlString,
            ),
            { maxLength: 3 },
          ),
          body: bodyFor(fields),
          raw: fc.boolean(),
        });
        try {
          await fc.assert(
            fc.asyncProperty(call, async ({ params, query, body, raw }) => {
              const started = performance.now();
              let url = path;
              params.forEach((value, i) => {
                url = url.replace(`{${pathNames[i]}}`, encodeURIComponent(value));
              });
              const search = new URLSearchParams(query).toString();
              const hasBody = !['get', 'head', 'delete'].includes(method);
              const response = await fetch(`${base}${url}${search ? `?${search}` : ''}`, {
                method: method.toUpperCase(),
                headers: {
                  'x-auth-token': token,
                  ...(hasBody ? { 'content-type': raw ? 'application/json' : mediaType } : {}),
                },
                ...(hasBody ? { body: JSON.stringify(body) } : {}),
                signal: AbortSignal.timeout(ANSWER_WITHIN_MS),
              });
              const text = await response.text();
              assert.ok(response.status < 500, `answered ${response.status}: ${text.slice(0, 400)}`);
              answered[`${Math.floor(response.status / 100)}xx` as '2xx' | '3xx' | '4xx'] += 1;
              answered.slowestMs = Math.max(answered.slowestMs, performance.now() - started);
              if (response.status >= 400 && method !== 'head') {
                // Ferry's and IMS's shape ({error: {code}}), or BCC's on its routes ({code, requestId}).
                const parsed = JSON.parse(text) as { error?: { code?: unknown }; code?: unknown };
                assert.equal(
                  typeof (parsed.error?.code ?? parsed.code),
                  'string',
                  `an error body with a code: ${text.slice(0, 400)}`,
                );
              }
            }),
            { numRuns: RUNS },
          );
        } catch (error) {
          const cause = (error as { cause?: Error }).cause;
          const message = `${(error as Error).message}\n${cause?.message ?? ''}`.replace(
            /"a{100,}"/g,
            (run) => `"a×${run.length - 2}"`,
          );
          failures.push(`${method.toUpperCase()} ${path}: ${message.slice(0, 3000)}`);
        }
      }
      if (failures.length > 0) console.error(failures.join('\n\n'));
      assert.deepEqual(failures, []);
      const calls = answered['2xx'] + answered['3xx'] + answered['4xx'];
      await recordReliability({
        class: 'input',
        subject: `every documented API route under generated path, query and body, on ${dialect}`,
        tried: `${routes.length} routes x ${RUNS} calls: ${calls} calls with hostile strings, wrong types, huge numbers, nested JSON and near-valid IDs (fast-check)`,
        held: `${calls} of ${calls} answered in time without a 5xx (${answered['4xx']} 4xx with a JSON error code, ${answered['2xx'] + answered['3xx']} 2xx/3xx)`,
        figures: { 'slowest answer': `${answered.slowestMs.toFixed(0)} ms (bound ${ANSWER_WITHIN_MS} ms)` },
        file: 'test/e2e/hardening/route-fuzz.test.ts',
      });
    });
  });
}
