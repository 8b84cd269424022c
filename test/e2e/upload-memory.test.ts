// A region process's memory with many uploads at once: each upload costs its ring of chunk buffers
// (blobs/ingest.ts INGEST_WINDOW) and no thread of its own (its hashes run on the process's hash pool), so
// the region's documented limit of 32 uploads at once stays within UPLOADS_MEMORY_BOUND.
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { test } from 'node:test';
import { api, OCTET } from '../helpers/deployment.js';
import { startRegionProcesses } from '../helpers/region-processes.js';
import { pseudoRandom } from '../helpers/replication.js';

const MiB = 1024 * 1024;
/** docs/architecture.md: ~120 MiB idle plus ~15 MiB per upload in flight; 32 uploads measured 581 MiB. */
const UPLOADS_MEMORY_BOUND = 768 * MiB;

async function peakRss(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)![1]) * 1024;
}

test('32 uploads at once into one region process stay within the documented memory bound', async (t) => {
  const p = await startRegionProcesses(t, ['north-1'], { limits: { maxConcurrentUploadsPerAccount: 32 } });
  const pid = p.pid('north-1');
  const token = p.demo.token;
  const images = await Promise.all(
    Array.from({ length: 32 }, async (_, i) => {
      const created = await api(p.url('north-1'), token, 'POST', '/v2/images', {
        name: `parallel-${i}`,
        disk_format: 'raw',
        container_format: 'bare',
      });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      return { id: created.body.id as string, data: pseudoRandom(16 * MiB, 2 * i + 101) };
    }),
  );
  await writeFile(`/proc/${pid}/clear_refs`, '5'); // resets VmHWM to the current RSS
  const results = await Promise.all(
    images.map(({ id, data }) => api(p.url('north-1'), token, 'PUT', `/v2/images/${id}/file`, data, OCTET)),
  );
  const peak = await peakRss(pid);
  t.diagnostic(`peak RSS with 32 uploads at once: ${(peak / MiB).toFixed(0)} MiB`);
  for (const result of results) assert.equal(result.status, 204, JSON.stringify(result.body));
  assert.ok(peak <= UPLOADS_MEMORY_BOUND, `peak RSS ${(peak / MiB).toFixed(0)} MiB`);
  const { id, data } = images[17]!;
  const back = await fetch(`${p.url('north-1')}/v2/images/${id}/file`, {
    headers: { 'x-auth-token': token },
  });
  assert.ok(Buffer.from(await back.arrayBuffer()).equals(data), 'stored byte for byte');
});
