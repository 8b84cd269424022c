// docs/errors.md lists every error code Ferry can return, with its status.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { ERROR_CODES } from '../../../src/domain/errors.js';

test('docs/errors.md documents every error code with its status', async () => {
  const doc = await readFile(new URL('../../../docs/errors.md', import.meta.url), 'utf8');
  for (const [code, { status }] of Object.entries(ERROR_CODES)) {
    assert.match(
      doc,
      new RegExp(`^\\|\\s*${code}\\s*\\|\\s*${status}\\s*\\|`, 'm'),
      `${code} is missing from docs/errors.md`,
    );
  }
});
