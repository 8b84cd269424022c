import { randomBytes, createHash } from 'node:crypto';
import { mkdtemp, rm, readFile } from 'node:fs/promises';
import { createFsBlobDriver } from '../src/blobs/drivers/fs.js';
import { chunkKey } from '../src/blobs/layout.js';
import type { Digest } from '../src/domain/ids.js';
const MiB = 1 << 20; const N = 1024;
async function threadCpu(): Promise<number> { const st = await readFile(`/proc/self/task/${process.pid}/stat`, 'utf8'); const f = st.slice(st.lastIndexOf(')') + 2).split(' '); return (Number(f[11]) + Number(f[12])) / 100; }
for (const sync of [true, false, true, false]) {
  const root = await mkdtemp('/tmp/ferry-pc-'); const driver = await createFsBlobDriver({ root, sync });
  const buf = randomBytes(MiB);
  const keys = Array.from({ length: N }, (_, i) => chunkKey(createHash('sha256').update(String(i) + root).digest('hex') as Digest));
  const c0 = await threadCpu(); const t = performance.now(); let next = 0;
  await Promise.all(Array.from({ length: 16 }, async () => { while (next < N) await driver.put(keys[next++]!, buf); }));
  const w = (performance.now() - t) / 1000; const c = (await threadCpu()) - c0;
  console.log({ sync }, Math.round(N / w), 'MiB/s', 'main-thread cpu', c.toFixed(2), 's =', (c / N * 1e6).toFixed(0), 'µs/put');
  await rm(root, { recursive: true });
}
