import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, readdir, readFile } from 'node:fs/promises';
import { createChunkStore } from '../src/blobs/chunk-store.js';
import { createFsBlobDriver } from '../src/blobs/drivers/fs.js';
import { ingestImage } from '../src/blobs/ingest.js';
const MiB = 1 << 20; const N = 1024;
async function* generated(): AsyncGenerator<Buffer> {
  const block = randomBytes(MiB);
  for (let c = 0; c < N; c++) { block.writeUInt32BE(c, 0); block.writeUInt32BE(Math.random() * 2 ** 32, 4); for (let o = 0; o < MiB; o += 65536) yield block.subarray(o, o + 65536); }
}
const snap = new Map<string, { name: string; u: number; s: number }>();
async function sample() {
  for (const tid of await readdir('/proc/self/task')) {
    try { const st = await readFile(`/proc/self/task/${tid}/stat`, 'utf8'); const name = st.slice(st.indexOf('(') + 1, st.lastIndexOf(')')); const f = st.slice(st.lastIndexOf(')') + 2).split(' '); snap.set(tid, { name, u: Number(f[11]), s: Number(f[12]) }); } catch {}
  }
}
const root = await mkdtemp('/tmp/ferry-thr-');
import type { BlobDriver } from '../src/blobs/driver.js';
const nullDriver: BlobDriver = { name: 'null', capabilities: { maxParallelism: 8 }, put: async () => {}, get: async () => Buffer.alloc(0), has: async () => false, delete: async () => {}, list: async function* () {} };
const store = createChunkStore({ driver: process.env.D === 'null' ? nullDriver : await createFsBlobDriver({ root, sync: process.env.SYNC !== '0' }) });
await sample(); const before = new Map(snap);
const timer = setInterval(() => void sample(), 100);
const t = performance.now();
await ingestImage(store, generated());
const w = (performance.now() - t) / 1000;
clearInterval(timer); await sample();
console.log(Math.round(N / w), 'MiB/s wall', w.toFixed(2));
const agg = new Map<string, { u: number; s: number; n: number }>();
for (const [tid, v] of snap) { const b = before.get(tid) ?? { u: 0, s: 0 }; const a = { u: v.u - b.u, s: v.s - b.s, n: 1 }; agg.set(tid + ' ' + v.name, a); }
for (const [name, a] of agg) if (a.u + a.s > 5) console.log(name.padEnd(16), 'threads', a.n, 'user', (a.u / 100).toFixed(2), 'sys', (a.s / 100).toFixed(2));
await rm(root, { recursive: true });
