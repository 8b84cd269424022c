// Tokens and provisioning: a secret is stored only as its SHA-256, a token made with a token expires no later
// than it, and provisioning gives every region the same identity (same ids) and one secret that works in each.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { provisionIdentity } from '../../../src/identity/provision.js';
import { authenticate, hashSecret, prepareToken } from '../../../src/identity/tokens.js';
import { findAccountByName } from '../../../src/store/identity.js';
import { openTestDb } from '../../helpers/db.js';
import { fixedClock } from '../../helpers/rows.js';

test('a prepared token keeps only the hash of its secret, and never outlives the token it was made with', () => {
  const clock = fixedClock();
  const { secret, token } = prepareToken(clock, { userId: 'u', projectId: 'p', ttlSeconds: 3600 });
  assert.match(secret, /^fry_[A-Za-z0-9_-]{43}$/);
  assert.equal(token.secret_hash, hashSecret(secret));
  assert.ok(!JSON.stringify(token).includes(secret), 'the secret is not in the row');
  assert.equal(token.expires_at, '2026-01-01T01:00:00.000Z');
  const child = prepareToken(clock, {
    userId: 'u',
    projectId: 'p',
    ttlSeconds: 30 * 24 * 3600,
    notAfter: token.expires_at,
    parentHash: token.secret_hash,
  });
  assert.equal(child.token.expires_at, token.expires_at);
  assert.equal(child.token.parent_hash, token.secret_hash);
  assert.notEqual(child.secret, secret);
});

test('provisioning writes the same ids into every region, and one secret authenticates in each', async (t) => {
  const clock = fixedClock();
  const north = await openTestDb(t, 'sqlite');
  const south = await openTestDb(t, 'sqlite');
  const regions = [
    { region: 'north-1', db: north },
    { region: 'south-1', db: south },
  ];
  const first = await provisionIdentity(regions, clock, { account: 'demo', user: 'dev', isAdmin: false });
  const [inNorth, inSouth] = [await findAccountByName(north, 'demo'), await findAccountByName(south, 'demo')];
  assert.equal(inNorth?.id, first.accountId);
  assert.equal(inSouth?.id, first.accountId, 'the same account id in both regions');
  for (const { region, db } of regions) {
    const principal = await authenticate(db, clock, first.token);
    assert.equal(principal.userId, first.userId);
    assert.equal(principal.projectId, first.projects[region], `acts in ${region}'s own project`);
  }
  const again = await provisionIdentity(regions, clock, { account: 'demo', user: 'dev', isAdmin: false });
  assert.equal(again.accountId, first.accountId, 'provisioning again keeps the ids');
  assert.notEqual(again.token, first.token, 'and issues a new token');
  await assert.rejects(authenticate(north, clock, 'fry_nonsense'), { code: 'UNAUTHORIZED' });
});
