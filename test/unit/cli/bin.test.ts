// The installed entry point runs the built command.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const root = fileURLToPath(new URL('../../../', import.meta.url));

test('bin/ferry.js runs the built ferry command', async () => {
  const { stdout } = await promisify(execFile)(`${root}bin/ferry.js`, ['--version']);
  assert.match(stdout, /^\d+\.\d+\.\d+/);
});
