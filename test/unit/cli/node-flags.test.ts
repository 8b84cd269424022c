import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { SERVER_NODE_FLAGS } from '../../../src/cli/node-flags.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));

// The flags cannot live in one place (a shebang and npm scripts cannot import them): every copy must agree.
test('every launcher of Ferry passes the server node flags', async () => {
  const manifest = JSON.parse(await readFile(`${root}package.json`, 'utf8')) as {
    scripts: Record<string, string>;
  };
  for (const script of ['start', 'ferry']) {
    const command = manifest.scripts[script] ?? '';
    assert.match(command, /node .*dist\/cli\/main\.js/, script);
    for (const flag of SERVER_NODE_FLAGS)
      assert.ok(command.includes(`node ${flag} `), `${script}: ${command}`);
  }
  const shebang = (await readFile(`${root}bin/ferry.js`, 'utf8')).split('\n')[0];
  assert.equal(shebang, `#!/usr/bin/env -S node ${SERVER_NODE_FLAGS.join(' ')}`);
});

test('bin/ferry.js starts with the flags in its shebang', async () => {
  // `env -S` splits the shebang's arguments; a plain `env` would look for a program named "node --initial…".
  const { stdout } = await promisify(execFile)(`${root}bin/ferry.js`, ['--version']);
  assert.match(stdout, /^\d+\.\d+\.\d+/);
});
