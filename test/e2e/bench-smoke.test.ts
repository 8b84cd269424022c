// The bench's smallest configuration end to end (`bench/run.ts --size-gib 0.0625 --runs 1 --no-glance`), so
// it cannot rot while the code under it changes: it must finish, leave no scratch files or processes, and
// its JSON must hold every row (measured, or unavailable with a reason) and a verdict per target. The
// figures themselves are not checked: at 64 MiB they say nothing about the targets.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { BenchResult } from '../../bench/results.js';
import { makeTempDir } from '../helpers/tmp.js';
import { ownStackSkip } from '../helpers/stack.js';

const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));

test(
  'the bench runs its smallest configuration and writes rows and verdicts',
  { timeout: 120_000, skip: ownStackSkip() },
  async (t) => {
    const dir = await makeTempDir(t, 'ferry-bench-smoke-');
    const json = join(dir, 'results.json');
    const scratch = await makeTempDir(t, 'ferry-bench-scratch-');
    await promisify(execFile)(
      process.execPath,
      [
        '--import',
        'tsx',
        'bench/run.ts',
        '--size-gib',
        '0.0625',
        '--runs',
        '1',
        '--no-glance',
        '--dir',
        scratch,
        '--json',
        json,
      ],
      { cwd: REPO_ROOT, maxBuffer: 16 * 1024 * 1024 },
    );

    const result = JSON.parse(await readFile(json, 'utf8')) as BenchResult;
    assert.equal(result.runs, 1);
    assert.equal(result.sizeBytes, 64 * 1024 * 1024);
    const ids = new Set(result.rows.map((row) => row.id));
    for (const id of [
      'cp-cached',
      'cp-uncached',
      'ferry-upload',
      'glance-upload',
      'ferry-replicate',
      'glance-a-to-b',
      'ferry-replicate-changed',
      'ferry-replicate-sparse',
    ] as const) {
      assert.ok(ids.has(id), `row ${id} missing`);
    }
    for (const row of result.rows) {
      if (row.unavailable !== undefined) continue;
      assert.equal(row.seconds?.runs.length, 1, `${row.id}: one run`);
      assert.ok(row.seconds.median > 0, `${row.id}: a time`);
    }
    // Ferry's D = 0 rows are always measured; Glance's say why they are not.
    for (const id of [
      'ferry-upload',
      'ferry-replicate',
      'ferry-replicate-changed',
      'ferry-replicate-sparse',
    ]) {
      const row = result.rows.find((r) => r.id === id && r.flushDelayMs === 0);
      assert.ok(row?.seconds !== undefined, `${id} at D = 0 measured`);
    }
    const full = result.rows.find((r) => r.id === 'ferry-replicate' && r.flushDelayMs === 0)!;
    assert.equal(full.bytesSent?.median, result.sizeBytes, 'a new image is sent whole');
    assert.ok(full.cpuSecondsPerGiB?.['both regions'] !== undefined);
    assert.match(result.rows.find((r) => r.id === 'glance-upload')!.unavailable ?? '', /glance/);

    // The event loop of both D = 0 regions, over the round and under GC, scrub and job lists.
    for (const id of ['rounds', 'gc-scrub']) {
      const loop = result.loopDelay?.find((entry) => entry.id === id);
      assert.ok(loop !== undefined, `event-loop row ${id}`);
      assert.deepEqual(Object.keys(loop.maxMs).sort(), ['idle process', 'north-1', 'south-1']);
      for (const ms of Object.values(loop.maxMs)) assert.ok(ms >= 0 && ms < 60_000);
      assert.deepEqual(Object.keys(loop.medianMaxMs).sort(), ['idle process', 'north-1', 'south-1']);
      assert.equal(loop.regionsLongestMs.length, loop.windows, 'one figure per window');
      assert.equal(
        Math.max(...loop.regionsLongestMs),
        Math.max(loop.maxMs['north-1']!, loop.maxMs['south-1']!),
      );
    }
    assert.equal(
      result.loopDelay?.find((entry) => entry.id === 'gc-scrub')?.windows,
      result.runs,
      'one replication under GC, scrub and job lists per run',
    );
    assert.ok(result.verdicts.some((v) => /event loop/.test(v.target) && v.verdict !== 'UNMEASURED'));

    assert.ok(result.verdicts.length >= 8, 'a verdict per target');
    for (const verdict of result.verdicts) {
      assert.match(verdict.verdict, /^(PASS|FAIL|UNMEASURED)$/);
      assert.ok(verdict.figures.length > 0, `${verdict.target}: figures`);
    }
    // The bench removed its scratch folder (and stopped its servers before that).
    assert.deepEqual(await readdir(scratch), []);
  },
);
