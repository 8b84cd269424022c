#!/usr/bin/env node
// Fails when a production dependency (`npm audit --omit=dev`) has a high or critical advisory: CI's
// guard against shipping a known-vulnerable library. When the registry's advisory endpoint cannot be
// asked (an offline mirror answers 405), it says so loudly and passes, since nothing is known either way;
// FERRY_AUDIT_REQUIRED=1 makes that a failure too. `--report <file>` reads a saved `npm audit --json`
// answer instead of asking npm (the script's own tests).
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

const BLOCKING = ['high', 'critical'];

function auditReport() {
  const at = process.argv.indexOf('--report');
  if (at !== -1) return readFileSync(process.argv[at + 1], 'utf8');
  try {
    return execFileSync('npm', ['audit', '--omit=dev', '--json'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
  } catch (error) {
    // npm audit exits 1 both when it finds advisories and when it cannot ask: the JSON tells which.
    return error.stdout ?? '';
  }
}

let report;
try {
  report = JSON.parse(auditReport());
} catch {
  report = { message: 'npm audit printed no JSON' };
}

if (report.metadata?.vulnerabilities === undefined) {
  const why = report.message ?? report.error?.summary ?? 'no answer';
  const line = `audit: the advisory endpoint could not be asked (${why}); production dependencies were NOT checked`;
  if (process.env.FERRY_AUDIT_REQUIRED === '1') {
    console.error(`${line}, and FERRY_AUDIT_REQUIRED=1`);
    process.exit(1);
  }
  console.error(`WARNING ${line}`);
  process.exit(0);
}

const counts = report.metadata.vulnerabilities;
const blocking = Object.values(report.vulnerabilities ?? {}).filter((v) => BLOCKING.includes(v.severity));
if (blocking.length > 0) {
  for (const v of blocking) {
    const titles = v.via.filter((via) => typeof via === 'object').map((via) => `${via.title} (${via.url})`);
    console.error(
      `audit: ${v.name} ${v.range}: ${v.severity}: ${titles.join('; ') || `through ${v.via.join(', ')}`}`,
    );
  }
  console.error(`audit: ${blocking.length} production dependencies with high or critical advisories`);
  process.exit(1);
}
const others = Object.entries(counts)
  .filter(([severity, n]) => severity !== 'total' && n > 0)
  .map(([severity, n]) => `${n} ${severity}`);
console.log(
  `audit: no high or critical advisory in production dependencies${others.length ? ` (${others.join(', ')})` : ''}`,
);
