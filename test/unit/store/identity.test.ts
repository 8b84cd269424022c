// Identity rows on both dialects: tokens and agencies.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { authenticate, issueToken } from '../../../src/identity/tokens.js';
import { insertAgency, findAgencyByName, revokeToken } from '../../../src/store/identity.js';
import { dialects, openTestDb } from '../../helpers/db.js';
import { fixedClock, seed } from '../../helpers/rows.js';

for (const { name, skip } of dialects()) {
  describe(`identity store on ${name}`, { skip }, () => {
    test('tokens authenticate until revoked or expired', async (t) => {
      const db = await openTestDb(t, name);
      const clock = fixedClock();
      await seed(db, clock);
      const { secret, token } = await issueToken(db, clock, {
        userId: 'u'.repeat(32),
        projectId: 'p'.repeat(32),
        ttlSeconds: 3600,
      });
      const principal = await authenticate(db, clock, secret);
      assert.equal(principal.accountId, 'a'.repeat(32));
      assert.equal(principal.projectId, 'p'.repeat(32));
      assert.notEqual(token.secret_hash, secret, 'the secret itself is not stored');
      await assert.rejects(authenticate(db, clock, secret + 'x'), { code: 'UNAUTHORIZED' });
      clock.advance(3601 * 1000);
      await assert.rejects(authenticate(db, clock, secret), { code: 'UNAUTHORIZED' });
      const second = await issueToken(db, clock, { userId: 'u'.repeat(32), projectId: 'p'.repeat(32) });
      assert.ok(await revokeToken(db, clock, 'u'.repeat(32), second.token.id));
      assert.equal(
        await revokeToken(db, clock, 'v'.repeat(32), second.token.id),
        undefined,
        'not your token',
      );
      await assert.rejects(authenticate(db, clock, second.secret), { code: 'UNAUTHORIZED' });
    });

    test('agencies keep their per-region policies', async (t) => {
      const db = await openTestDb(t, name);
      const clock = fixedClock();
      await seed(db, clock);
      await insertAgency(db, clock, {
        id: 'g'.repeat(32),
        account_id: 'a'.repeat(32),
        name: 'copy',
        policies: [{ region: 'south-1', policy: 'CrossCopyAgencyPolicy' }],
      });
      const agency = await findAgencyByName(db, 'a'.repeat(32), 'copy');
      assert.deepEqual(agency?.policies, [{ region: 'south-1', policy: 'CrossCopyAgencyPolicy' }]);
      assert.equal(
        await findAgencyByName(db, 'b'.repeat(32), 'copy'),
        undefined,
        'other accounts do not see it',
      );
    });
  });
}
