// An administrator reads a region process's memory and event-loop delay over a window he restarts; no one
// else may.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { api, startTestDeployment } from '../helpers/deployment.js';

test('GET /v1/admin/runtime gives memory and event-loop delay; reset ends the window; admins only', async (t) => {
  const d = await startTestDeployment(t, ['north-1']);
  const refused = await api(d.url(), d.demo.token, 'GET', '/v1/admin/runtime');
  assert.equal(refused.status, 403);
  assert.equal((await api(d.url(), d.demo.token, 'POST', '/v1/admin/runtime/reset')).status, 403);

  const first = await api(d.url(), d.admin.token, 'POST', '/v1/admin/runtime/reset');
  assert.equal(first.status, 200);
  await sleep(300);
  const stats = await api(d.url(), d.admin.token, 'GET', '/v1/admin/runtime');
  assert.equal(stats.status, 200);
  const { memory, event_loop_delay: loop } = stats.body;
  assert.equal(stats.body.pid, process.pid); // the test's deployment runs in this process
  assert.ok(memory.rss_bytes > memory.heap_used_bytes && memory.heap_used_bytes > 0);
  assert.ok(Date.parse(loop.since) > Date.parse(first.body.event_loop_delay.since));
  // A 10 ms timer over 300 ms: some 20-30 samples, and this idle loop was not held for long.
  assert.ok(loop.samples >= 10, JSON.stringify(loop));
  assert.ok(loop.max_ms >= loop.p99_ms && loop.p99_ms >= 0, JSON.stringify(loop));

  // The test's own thread holds the loop (the region runs in this process): the window shows it.
  await api(d.url(), d.admin.token, 'POST', '/v1/admin/runtime/reset');
  await sleep(30); // the window's first tick only starts its clock
  const until = Date.now() + 120;
  while (Date.now() < until); // a 120 ms stall
  await sleep(50);
  const stalled = (await api(d.url(), d.admin.token, 'GET', '/v1/admin/runtime')).body.event_loop_delay;
  assert.ok(stalled.max_ms >= 100, JSON.stringify(stalled));
  const after = (await api(d.url(), d.admin.token, 'POST', '/v1/admin/runtime/reset')).body.event_loop_delay;
  assert.ok(after.max_ms >= 100);
  await sleep(100);
  const fresh = (await api(d.url(), d.admin.token, 'GET', '/v1/admin/runtime')).body.event_loop_delay;
  assert.ok(fresh.max_ms < 100, JSON.stringify(fresh));
});
