// A region's credential: its hash, its check against a catalog's list, and its file (mode 0600 only).
// Also the TLS section of the settings.
import assert from 'node:assert/strict';
import { chmod, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  credentialMatches,
  credentialSha256,
  ensureCredential,
  newCredential,
  readCredential,
  writeCredential,
} from '../../../src/config/region-credential.js';
import { parseSettings } from '../../../src/config/settings.js';
import { loadRegionTls } from '../../../src/config/tls.js';
import { makeTempDir } from '../../helpers/tmp.js';

test('a credential is checked against every hash listed for the region, and only against those', () => {
  // SHA-256 of "abc" (FIPS 180-2's example).
  assert.equal(credentialSha256('abc'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  const old = newCredential();
  const next = newCredential();
  const other = newCredential();
  assert.notEqual(old, next);
  assert.equal(Buffer.from(old, 'base64url').length, 32);
  const listed = [credentialSha256(old), credentialSha256(next)];
  assert.ok(credentialMatches(listed, old), 'the old one, during a rotation');
  assert.ok(credentialMatches(listed, next), 'the new one');
  assert.ok(!credentialMatches(listed, other), "another region's credential");
  assert.ok(!credentialMatches([credentialSha256(next)], old), 'the old one once the rotation is finished');
  for (const presented of [undefined, '', 42, [old], listed[0]]) {
    assert.ok(!credentialMatches(listed, presented), String(presented));
  }
  assert.ok(!credentialMatches([], old), 'a region with no hash listed is accepted with nothing');
  assert.ok(!credentialMatches(['zz'], old), 'a malformed hash matches nothing');
});

test('credential files: created 0600 with 32 random bytes, read back, refused when others may read them', async (t) => {
  const dir = await makeTempDir(t);
  const file = join(dir, 'north-1', 'region-credential');
  const created = await ensureCredential(file);
  assert.equal(created.created, true);
  assert.equal((await stat(file)).mode & 0o777, 0o600);
  assert.equal(await readFile(file, 'utf8'), `${created.credential}\n`);
  assert.deepEqual(await ensureCredential(file), { credential: created.credential, created: false });
  assert.equal(await readCredential(file), created.credential);

  await chmod(file, 0o644);
  await assert.rejects(readCredential(file), /is open to other users \(mode 644\): run `chmod 600 /);
  await writeFile(file, 'short\n', { mode: 0o600 });
  await chmod(file, 0o600);
  await assert.rejects(readCredential(file), /at least 16 visible ASCII characters/);
  await writeFile(file, 'with a space in it, long enough\n');
  await assert.rejects(readCredential(file), /at least 16 visible ASCII characters/);
  await assert.rejects(readCredential(join(dir, 'none')), /cannot read .*none \(no such file\)/);

  // A replacement is whole or not at all, and stays 0600.
  const next = newCredential();
  await writeCredential(file, next);
  assert.equal(await readCredential(file), next);
  assert.equal((await stat(file)).mode & 0o777, 0o600);
  await assert.rejects(writeCredential(file, 'short'), /at least 16/);
  assert.equal(await readCredential(file), next, 'a refused one changes nothing');
});

test('tls settings: certificate and key together, a CA alone, unknown keys refused', async (t) => {
  assert.deepEqual(
    parseSettings({ tls: { certFile: '/c', keyFile: '/k', peerCaFile: '/ca', peerCaOnly: true } }).tls,
    {
      certFile: '/c',
      keyFile: '/k',
      peerCaFile: '/ca',
      peerCaOnly: true,
    },
  );
  assert.throws(
    () => parseSettings({ tls: { certFile: '/c' } }),
    /tls\.certFile and tls\.keyFile go together/,
  );
  assert.throws(() => parseSettings({ tls: { peerCaOnly: true } }), /tls\.peerCaOnly needs tls\.peerCaFile/);
  assert.throws(() => parseSettings({ tls: { caFile: '/ca' } }), /unknown key tls\.caFile/);
  assert.throws(
    () => parseSettings({ tls: { certFile: 1, keyFile: '/k' } }),
    /tls\.certFile must be a file path/,
  );

  const dir = await makeTempDir(t);
  assert.deepEqual(await loadRegionTls({}), {}, 'no TLS: plain HTTP and Node’s roots');
  await assert.rejects(loadRegionTls({ peerCaFile: join(dir, 'missing.pem') }), /cannot read the CA file/);
  await writeFile(join(dir, 'empty.pem'), 'nothing\n');
  await assert.rejects(loadRegionTls({ peerCaFile: join(dir, 'empty.pem') }), /holds no PEM certificate/);
});
