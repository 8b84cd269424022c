// Where a webhook may be sent (replication/webhook-target.ts): public addresses only, unless the deployment
// allows private ones; judged on literal addresses when registered and on the resolved address at delivery.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assertWebhookUrl, isPublicAddress, publicLookup } from '../../../src/replication/webhook-target.js';

test('loopback, private, link-local, shared, reserved and multicast addresses are not public', () => {
  for (const address of [
    '127.0.0.1',
    '127.8.9.10',
    '10.1.2.3',
    '172.16.0.1',
    '172.31.255.255',
    '192.168.1.1',
    '169.254.169.254',
    '100.64.0.1',
    '0.0.0.0',
    '224.0.0.1',
    '255.255.255.255',
    '::1',
    '::',
    'fc00::1',
    'fd12:3456::1',
    'fe80::1',
    'ff02::1',
    '::ffff:127.0.0.1',
    '::ffff:10.0.0.1',
    '64:ff9b::a00:1',
    'not-an-address',
  ]) {
    assert.equal(isPublicAddress(address), false, address);
  }
  for (const address of ['8.8.8.8', '1.1.1.1', '172.32.0.1', '2001:4860:4860::8888', '::ffff:8.8.8.8']) {
    assert.equal(isPublicAddress(address), true, address);
  }
});

test('a webhook URL naming a non-public address is refused, unless private addresses are allowed', () => {
  for (const url of [
    'http://127.0.0.1:8080/hook',
    'http://localhost/hook',
    'http://localhost./hook',
    'http://api.localhost/hook',
    'http://[::1]/hook',
    'http://169.254.169.254/latest/meta-data/',
    'https://10.0.0.5/hook',
    'http://[::ffff:127.0.0.1]/hook',
  ]) {
    assert.throws(() => assertWebhookUrl(url, false), /must reach a public address/, url);
    assert.doesNotThrow(() => assertWebhookUrl(url, true), url);
  }
  assert.doesNotThrow(() => assertWebhookUrl('https://hooks.example.com/ferry', false));
  assert.throws(() => assertWebhookUrl('ftp://example.com/', true), /http\(s\) URL/);
  assert.throws(() => assertWebhookUrl('https://user:pw@example.com/', true), /user name or password/);
});

test('at delivery, a name that resolves only to loopback is refused when connecting', async () => {
  const error = await new Promise<NodeJS.ErrnoException | null>((resolve) =>
    publicLookup('localhost', { all: true }, (e) => resolve(e)),
  );
  assert.equal(error?.code, 'EADDRNOTPUBLIC');
});
