// docs/deploy.md's settings reference names every key the settings file takes, so it cannot fall behind the
// code: each section's defaults are the keys `parseSettings` accepts (settings.ts checks keys against them).
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { DEFAULT_IMAGE_SETTINGS, DEFAULT_LIMITS } from '../../../src/config/limits.js';
import { DEFAULT_REPLICATION_SETTINGS } from '../../../src/config/replication.js';
import { DEFAULT_STORAGE_SETTINGS } from '../../../src/config/storage.js';
import { DEFAULT_TLS_SETTINGS } from '../../../src/config/tls.js';
import { parseSettings } from '../../../src/config/settings.js';

const DOC = new URL('../../../docs/deploy.md', import.meta.url);

function keys(section: string, defaults: object): string[] {
  return Object.entries(defaults).flatMap(([key, value]) =>
    typeof value === 'object' && value !== null ? keys(`${section}.${key}`, value) : [`${section}.${key}`],
  );
}

test('every setting is in the reference of docs/deploy.md', async () => {
  const doc = await readFile(DOC, 'utf8');
  const all = [
    ...keys('limits', DEFAULT_LIMITS),
    ...keys('images', DEFAULT_IMAGE_SETTINGS),
    ...keys('replication', DEFAULT_REPLICATION_SETTINGS),
    ...keys('storage', DEFAULT_STORAGE_SETTINGS),
    'storage.s3',
    ...keys('tls', DEFAULT_TLS_SETTINGS),
  ];
  assert.ok(all.length > 50, `${all.length} keys`);
  // Each key is a setting the file takes (so the list above is the parser's), and the reference names it.
  for (const key of all) {
    const [section, ...path] = key.split('.');
    if (key !== 'storage.s3') {
      const value = path.reduceRight<unknown>((inner, name) => ({ [name]: inner }), lookup(key));
      assert.doesNotThrow(() => parseSettings({ [section!]: value }), key);
    }
    assert.ok(doc.includes(`\`${key}\``), `docs/deploy.md's settings reference lacks \`${key}\``);
  }
});

function lookup(key: string): unknown {
  const [section, ...path] = key.split('.');
  const defaults: Record<string, object> = {
    limits: DEFAULT_LIMITS,
    images: DEFAULT_IMAGE_SETTINGS,
    replication: DEFAULT_REPLICATION_SETTINGS,
    storage: DEFAULT_STORAGE_SETTINGS,
    tls: DEFAULT_TLS_SETTINGS,
  };
  return path.reduce<unknown>((value, name) => (value as Record<string, unknown>)[name], defaults[section!]);
}
