// The backoff of identity deliveries: doubling from the base, capped, never given up.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { retryDelayMs } from '../../../src/replication/identity-deliveries.js';
import { DEFAULT_REPLICATION_SETTINGS } from '../../../src/config/replication.js';

test('a failed identity delivery waits 2 s, then twice as long each time, at most a minute', () => {
  const ctx = { replication: DEFAULT_REPLICATION_SETTINGS };
  assert.deepEqual(
    [1, 2, 3, 4, 5, 6, 7].map((attempts) => retryDelayMs(ctx, attempts)),
    [2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000],
  );
  assert.equal(retryDelayMs(ctx, 10_000), 60_000, 'after any number of tries: still tried, at the cap');
});
