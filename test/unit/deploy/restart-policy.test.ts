import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decideRestart, DEFAULT_RESTART_POLICY as POLICY } from '../../../src/deploy/restart-policy.js';

test('a region that ran a while is started again at once, and its count of quick failures is reset', () => {
  assert.deepEqual(decideRestart(POLICY, 3, POLICY.quickFailureMs), {
    restart: true,
    delayMs: 0,
    quickFailures: 0,
  });
});

test('a region that keeps ending soon after it started waits twice as long each time, then is given up on', () => {
  const decisions = [];
  let failures = 0;
  for (;;) {
    const decision = decideRestart(POLICY, failures, 100);
    decisions.push(decision);
    failures = decision.quickFailures;
    if (!decision.restart) break;
  }
  assert.deepEqual(
    decisions.map((d) => (d.restart ? d.delayMs : 'give up')),
    [250, 500, 1000, 2000, 'give up'],
  );
  assert.equal(failures, POLICY.maxQuickFailures);
});

test('the delay stops growing at its maximum', () => {
  const policy = { ...POLICY, maxQuickFailures: 100 };
  assert.deepEqual(decideRestart(policy, 20, 0), {
    restart: true,
    delayMs: POLICY.maxDelayMs,
    quickFailures: 21,
  });
});
