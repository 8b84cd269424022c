/**
 * Per-test temporary directories, removed when the test ends (pass or fail).
 * @module
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';

/** Creates a fresh directory under the OS temp dir and registers its removal in `t.after`. */
export async function makeTempDir(t: TestContext, prefix = 'ferry-test-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}
