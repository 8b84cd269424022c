/**
 * `npm run reliability [-- --soak N]`: runs the reliability suite (issue 22) and writes docs/reliability.md,
 * a table per class of what was tried and what held, from the rows the tests record (test/helpers/
 * reliability.ts). Without --soak the sizes are CI's (the committed report is such a run); `--soak N` runs N
 * kill points, N/4 faulty replications, more fuzzing runs, isolation rounds and a longer load.
 *
 * The report is written only when every test passed: a failure prints the test runner's output (with the
 * seed to replay it) and leaves the committed report as it was. PostgreSQL is started for the route fuzzing
 * on it (scripts/start-test-postgres.sh) unless FERRY_TEST_PG names one.
 * @module
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { RELIABILITY_CLASSES, type ReliabilityRow } from '../test/helpers/reliability.js';

/** The suite: each class has a file here whose test breaks when its property is broken on purpose. */
const FILES = [
  'test/reliability/crash-consistency.test.ts',
  'test/reliability/network-faults.test.ts',
  'test/e2e/hardening/disk-full.test.ts',
  'test/e2e/scrub.test.ts',
  'test/unit/formats/inspector.fuzz.test.ts',
  'test/e2e/hardening/route-fuzz.test.ts',
  'test/reliability/isolation-matrix.test.ts',
  'test/reliability/load.test.ts',
];
const REPORT = 'docs/reliability.md';

const HEADINGS: Record<(typeof RELIABILITY_CLASSES)[number], string> = {
  crash: 'Crash consistency (SIGKILL at random points)',
  network: 'Network faults between regions',
  disk: 'Disk full and disk errors',
  input: 'Hostile input, generated',
  isolation: 'The isolation matrix',
  load: 'Load',
};

/**
 * Which test fails when the property is broken on purpose: each was tried by hand when the test was written
 * (the source changed, rebuilt, the test run and seen to fail, the change undone).
 */
const SABOTAGE: Record<(typeof RELIABILITY_CLASSES)[number], string> = {
  crash:
    "the chunk store's manifest no longer waiting for its chunks' barrier (putManifest in src/blobs/chunk-store.ts): the crash harness fails within a few kill points, a scrub after a restart finding a bad manifest and a damaged image",
  network:
    'the chunk digest check on the replication fetch path removed: the network-fault test fails, a replica with other bytes than its source',
  disk: "a full disk not recognised (isStorageFull in src/blobs/driver.ts answering false): disk-full fails, the replication's fail_reason no longer saying the storage is full; a scrub finding a damaged chunk without deleting it (src/blobs/scrub.ts): three scrub tests fail, the damaged image not healed by the next upload or replication",
  input:
    "the inspector no longer reading a qcow2's backing_file_offset (src/formats/qcow2.ts): the inspector fuzz fails on the qcow2 with a backing file; the Glance list's integer parser throwing a plain Error (a 500) for a bad `limit` (src/api/image-list-query.ts): the route fuzz fails, printing the call",
  isolation:
    "an image lookup ignoring the owner (about 107 cells wrong), a token's expiry ignored, the administrator check removed from /v1/admin/accounts: the isolation matrix fails, naming each cell",
  load: 'the per-user replication limit off by one, or a count that ignores unfinished jobs: the load test fails, a user over the limit. Not caught: a count of INIT jobs only (not RUNNING ones), a blind spot of this load',
};

const { values } = parseArgs({ options: { soak: { type: 'string' } } });
const soak = values.soak === undefined ? undefined : Number(values.soak);
if (soak !== undefined && !(Number.isInteger(soak) && soak > 0)) {
  console.error(`--soak takes a number of kill points (a positive integer), not ${values.soak}`);
  process.exit(2);
}

const sizes: Record<string, string> =
  soak === undefined
    ? {}
    : {
        FERRY_CRASH_KILLS: String(soak),
        FERRY_NETFAULT_JOBS: String(Math.max(12, Math.ceil(soak / 4))),
        FERRY_FUZZ_RUNS: String(Math.max(150, soak * 3)),
        FERRY_ISOLATION_ROUNDS: String(Math.max(1, Math.ceil(soak / 50))),
        FERRY_LOAD_SECONDS: String(Math.max(15, Math.ceil(soak / 2))),
      };

const postgres =
  process.env.FERRY_TEST_PG ??
  execFileSync('bash', ['scripts/start-test-postgres.sh'], { encoding: 'utf8' }).trim();
execFileSync('npm', ['run', 'build', '--silent'], { stdio: 'inherit' });

const scratch = mkdtempSync(join(tmpdir(), 'ferry-reliability-'));
const rowsFile = join(scratch, 'rows.jsonl');
const started = new Date();
const run = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=1', ...FILES], {
  stdio: 'inherit',
  env: { ...process.env, ...sizes, FERRY_TEST_PG: postgres, FERRY_RELIABILITY_OUT: rowsFile },
});
const minutes = (Date.now() - started.getTime()) / 60_000;
let rows: ReliabilityRow[] = [];
try {
  rows = readFileSync(rowsFile, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as ReliabilityRow);
} catch {
  // No row at all: the run failed before any test passed (reported below).
}
rmSync(scratch, { recursive: true, force: true });
if (run.status !== 0) {
  console.error(`reliability: a test failed (exit ${run.status}); ${REPORT} left as it was`);
  process.exit(1);
}
const missing = RELIABILITY_CLASSES.filter((c) => !rows.some((row) => row.class === c));
if (missing.length > 0) {
  console.error(`reliability: no row for ${missing.join(', ')} (a test skipped?); ${REPORT} left as it was`);
  process.exit(1);
}

const cell = (text: string | number) => String(text).replaceAll('|', '\\|').replaceAll('\n', ' ');
const lines = [
  '# Reliability',
  '',
  'What the reliability suite (issue 22) tried and what held, written by `npm run reliability` from the rows',
  'its tests record. Every figure below is from one run of it; regenerate it with that command (add',
  '`-- --soak N` for a longer run: N kill points, N/4 faulty replications, more fuzzing and load).',
  'The same tests run in CI (`npm test`) at these sizes; a failure prints the seed that replays it.',
  '',
  `- Run: ${started.toISOString().slice(0, 16).replace('T', ' ')} UTC, ${minutes.toFixed(1)} minutes, ${soak === undefined ? 'CI sizes' : `--soak ${soak}`}`,
  `- Machine: ${cpus().length} × ${cpus()[0]?.model.trim() ?? 'unknown CPU'}, ${Math.round(totalmem() / 2 ** 30)} GiB RAM, Node ${process.version}, ${execFileSync('uname', ['-sr'], { encoding: 'utf8' }).trim()}`,
  '',
];
for (const kind of RELIABILITY_CLASSES) {
  lines.push(`## ${HEADINGS[kind]}`, '', '| what | tried | held | test |', '|---|---|---|---|');
  const ofKind = rows.filter((row) => row.class === kind);
  for (const row of ofKind) {
    lines.push(`| ${cell(row.subject)} | ${cell(row.tried)} | ${cell(row.held)} | \`${row.file}\` |`);
  }
  for (const row of ofKind.filter((r) => r.figures && Object.keys(r.figures).length > 0)) {
    lines.push('', `Figures of \`${row.file}\`${ofKind.length > 1 ? ` (${cell(row.subject)})` : ''}:`, '');
    lines.push('| figure | value |', '|---|--:|');
    for (const [name, value] of Object.entries(row.figures!))
      lines.push(`| ${cell(name)} | ${cell(value)} |`);
  }
  lines.push('', `Broken on purpose: ${SABOTAGE[kind]}.`, '');
}
writeFileSync(REPORT, lines.join('\n'));
// As `npm run lint` wants it (tables aligned): the committed report is this command's output as it is.
execFileSync('npx', ['prettier', '--write', '--log-level', 'warn', REPORT], { stdio: 'inherit' });
console.log(`reliability: ${rows.length} rows in ${REPORT} (${minutes.toFixed(1)} minutes)`);
