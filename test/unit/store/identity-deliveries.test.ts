// Token administration's queries on both dialects: the durable queue of identity deliveries, revoking a user's
// tokens by issue time, enabling and disabling a user (the latest change wins), and authentication of a
// disabled user.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { authenticate, issueToken } from '../../../src/identity/tokens.js';
import {
  deleteIdentityDelivery,
  dueIdentityDeliveries,
  identityDeliveriesOf,
  insertIdentityDeliveries,
  postponeIdentityDelivery,
  type IdentityDelivery,
} from '../../../src/store/identity-deliveries.js';
import { findUser, listTokens, revokeUserTokens, setUserEnabled } from '../../../src/store/identity.js';
import { timestamp } from '../../../src/store/clock.js';
import { dialects, openTestDb } from '../../helpers/db.js';
import { fixedClock, seed } from '../../helpers/rows.js';

const ANN = 'u'.repeat(32);
const BOB = 'v'.repeat(32);

function delivery(id: string, fields: Partial<IdentityDelivery>): IdentityDelivery {
  return {
    id: id.repeat(32),
    region: 'south-1',
    kind: 'user_disabled',
    user_id: ANN,
    secret_hash: null,
    changed_at: '2026-01-01T00:00:00.000Z',
    attempts: 0,
    next_at: '2026-01-01T00:00:00.000Z',
    last_error: null,
    created_at: '2026-01-01T00:00:00.000Z',
    ...fields,
  };
}

for (const { name, skip } of dialects()) {
  describe(`token administration store on ${name}`, { skip }, () => {
    test('deliveries are due by next_at, oldest first, postponed on failure and removed once acknowledged', async (t) => {
      const db = await openTestDb(t, name);
      await insertIdentityDeliveries(db, [
        delivery('b', {
          created_at: '2026-01-01T00:00:02.000Z',
          kind: 'token_revoked',
          secret_hash: 'f'.repeat(64),
        }),
        delivery('a', { created_at: '2026-01-01T00:00:01.000Z' }),
        delivery('c', { user_id: BOB, next_at: '2026-01-01T01:00:00.000Z' }),
      ]);
      const due = await dueIdentityDeliveries(db, '2026-01-01T00:00:05.000Z', 10);
      assert.deepEqual(
        due.map((d) => d.id[0]),
        ['a', 'b'],
        'oldest first; one not due yet is left',
      );
      assert.equal(due[1]!.secret_hash, 'f'.repeat(64));
      assert.equal(
        (await dueIdentityDeliveries(db, '2026-01-01T00:00:05.000Z', 1)).length,
        1,
        'at most limit',
      );
      await postponeIdentityDelivery(db, 'a'.repeat(32), {
        attempts: 1,
        next_at: '2026-01-01T00:00:10.000Z',
        last_error: 'connection refused',
      });
      assert.deepEqual(
        (await dueIdentityDeliveries(db, '2026-01-01T00:00:05.000Z', 10)).map((d) => d.id[0]),
        ['b'],
      );
      const [postponed] = await identityDeliveriesOf(db, ANN);
      assert.equal(postponed!.attempts, 1);
      assert.equal(postponed!.last_error, 'connection refused');
      await deleteIdentityDelivery(db, 'b'.repeat(32));
      await deleteIdentityDelivery(db, 'b'.repeat(32)); // idempotent
      assert.deepEqual(
        (await identityDeliveriesOf(db, ANN)).map((d) => d.id[0]),
        ['a'],
      );
      assert.equal((await identityDeliveriesOf(db, BOB)).length, 1);
    });

    test("a user's tokens are revoked up to a time, with the tokens made with them; later ones stay", async (t) => {
      const db = await openTestDb(t, name);
      const clock = fixedClock();
      await seed(db, clock);
      const first = await issueToken(db, clock, { userId: ANN, projectId: 'p'.repeat(32) });
      clock.advance(1000);
      const cut = timestamp(clock);
      clock.advance(1000);
      // Made with `first` after the cut (as a copy stored by a region whose clock runs ahead).
      const child = await issueToken(db, clock, {
        userId: ANN,
        projectId: 'p'.repeat(32),
        parentHash: first.token.secret_hash,
      });
      const later = await issueToken(db, clock, { userId: ANN, projectId: 'p'.repeat(32) });
      const bobs = await issueToken(db, clock, { userId: BOB, projectId: 'q'.repeat(32) });
      clock.advance(1000);
      assert.equal(await revokeUserTokens(db, clock, ANN, cut), 1);
      await assert.rejects(authenticate(db, clock, first.secret), { code: 'UNAUTHORIZED' });
      await assert.rejects(authenticate(db, clock, child.secret), { code: 'UNAUTHORIZED' });
      assert.equal((await authenticate(db, clock, later.secret)).userId, ANN, 'issued after the cut');
      assert.equal((await authenticate(db, clock, bobs.secret)).userId, BOB, "another user's");
      assert.equal(await revokeUserTokens(db, clock, ANN, cut), 0, 'a second delivery changes nothing');
      const revokedAt = (await listTokens(db, ANN)).find((tk) => tk.id === first.token.id)!.revoked_at;
      assert.equal(revokedAt, '2026-01-01T00:00:03.000Z');
    });

    test('the latest enable or disable wins, whatever order they arrive in; a disabled user is refused', async (t) => {
      const db = await openTestDb(t, name);
      const clock = fixedClock();
      await seed(db, clock);
      const { secret } = await issueToken(db, clock, { userId: ANN, projectId: 'p'.repeat(32) });
      assert.equal((await findUser(db, ANN))!.enabled, 1, 'enabled by default');
      assert.equal(await setUserEnabled(db, ANN, false, '2026-01-01T00:00:02.000Z'), true);
      await assert.rejects(authenticate(db, clock, secret), {
        code: 'USER_DISABLED',
        message: /ann is disabled/,
      });
      assert.equal(
        await setUserEnabled(db, ANN, true, '2026-01-01T00:00:01.000Z'),
        false,
        'an older enable arriving late is ignored',
      );
      await assert.rejects(authenticate(db, clock, secret), { code: 'USER_DISABLED' });
      assert.equal(await setUserEnabled(db, ANN, true, '2026-01-01T00:00:03.000Z'), true);
      assert.equal((await authenticate(db, clock, secret)).userId, ANN);
      assert.equal((await findUser(db, ANN))!.enabled_changed_at, '2026-01-01T00:00:03.000Z');
      assert.equal(
        await setUserEnabled(db, 'x'.repeat(32), false, '2026-01-01T00:00:04.000Z'),
        false,
        'unknown',
      );
      assert.equal((await findUser(db, BOB))!.enabled, 1, 'others untouched');
    });
  });
}
