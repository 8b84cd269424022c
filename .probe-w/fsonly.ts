import { randomBytes, createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createFsBlobDriver } from '../src/blobs/drivers/fs.js';
import { chunkKey } from '../src/blobs/layout.js';
import type { Digest } from '../src/domain/ids.js';
const MiB = 1 << 20; const N = 1024;
const sab = Buffer.from(new SharedArrayBuffer(MiB)); randomBytes(MiB).copy(sab);
for (const sync of [true, false]) for (const useSab of [false, true, false, true]) {
  const root = await mkdtemp('/tmp/ferry-fso-'); const driver = await createFsBlobDriver({ root, sync });
  const buf = useSab ? sab : Buffer.from(sab);
  const keys = Array.from({ length: N }, (_, i) => chunkKey(createHash('sha256').update(String(i) + root).digest('hex') as Digest));
  const c0 = process.cpuUsage(); const t = performance.now(); let next = 0;
  await Promise.all(Array.from({ length: 16 }, async () => { while (next < N) await driver.put(keys[next++]!, buf); }));
  const w = (performance.now() - t) / 1000; const c = process.cpuUsage(c0);
  console.log({ sync, useSab }, Math.round(N / w), 'MiB/s', 'user', (c.user / 1e6).toFixed(2), 'sys', (c.system / 1e6).toFixed(2));
  await rm(root, { recursive: true });
}
