// .ci/run's advisory gate (scripts/audit-production.mjs) on saved `npm audit --json` answers: a high or
// critical advisory in a production dependency fails the run, lesser ones do not, and an advisory endpoint
// that cannot be asked is a loud warning (a failure with FERRY_AUDIT_REQUIRED=1).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { makeTempDir } from '../../helpers/tmp.js';

const SCRIPT = new URL('../../../scripts/audit-production.mjs', import.meta.url).pathname;

function advisory(name: string, severity: string) {
  return {
    name,
    severity,
    isDirect: true,
    via: [
      {
        source: 1100001,
        name,
        dependency: name,
        title: `${name} does a bad thing`,
        url: 'https://github.com/advisories/GHSA-xxxx-yyyy-zzzz',
        severity,
        range: '<9.9.9',
      },
    ],
    effects: [],
    range: '<9.9.9',
    nodes: [`node_modules/${name}`],
    fixAvailable: true,
  };
}

function report(...found: Array<ReturnType<typeof advisory>>) {
  const counts: Record<string, number> = { info: 0, low: 0, moderate: 0, high: 0, critical: 0 };
  for (const v of found) counts[v.severity]! += 1;
  return {
    auditReportVersion: 2,
    vulnerabilities: Object.fromEntries(found.map((v) => [v.name, v])),
    metadata: { vulnerabilities: { ...counts, total: found.length } },
  };
}

async function gate(t: import('node:test').TestContext, answer: unknown, env: Record<string, string> = {}) {
  const file = join(await makeTempDir(t), 'audit.json');
  await writeFile(file, JSON.stringify(answer));
  const run = spawnSync(process.execPath, [SCRIPT, '--report', file], {
    encoding: 'utf8',
    env: { ...process.env, FERRY_AUDIT_REQUIRED: '', ...env },
  });
  return { status: run.status, output: run.stdout + run.stderr };
}

test('a high or critical advisory in a production dependency fails the gate and is named', async (t) => {
  const high = await gate(t, report(advisory('fastify', 'high'), advisory('cookie', 'low')));
  assert.equal(high.status, 1);
  assert.match(high.output, /fastify <9\.9\.9: high: fastify does a bad thing/);
  assert.doesNotMatch(high.output, /cookie <9/);
  const critical = await gate(t, report(advisory('pg', 'critical')));
  assert.equal(critical.status, 1);
});

test('low and moderate advisories pass, with their counts', async (t) => {
  const lesser = await gate(t, report(advisory('cookie', 'low'), advisory('glob', 'moderate')));
  assert.equal(lesser.status, 0, lesser.output);
  assert.match(lesser.output, /no high or critical advisory .*1 low, 1 moderate/);
  const clean = await gate(t, report());
  assert.equal(clean.status, 0, clean.output);
});

test('an advisory endpoint that cannot be asked warns, and fails when the audit is required', async (t) => {
  const unreachable = {
    message: '405 Method Not Allowed - POST https://registry.npmjs.org/-/npm/v1/security/advisories/bulk',
    statusCode: 405,
  };
  const warned = await gate(t, unreachable);
  assert.equal(warned.status, 0);
  assert.match(warned.output, /WARNING .*could not be asked \(405 Method Not Allowed.*NOT checked/);
  const required = await gate(t, unreachable, { FERRY_AUDIT_REQUIRED: '1' });
  assert.equal(required.status, 1);
});
