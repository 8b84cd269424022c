import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, readFile } from 'node:fs/promises';
import { createChunkStore } from '../src/blobs/chunk-store.js';
import { createFsBlobDriver } from '../src/blobs/drivers/fs.js';
import { ingestImage } from '../src/blobs/ingest.js';
const MiB = 1 << 20; const N = Number(process.env.N ?? 1024);
async function* generated(): AsyncGenerator<Buffer> {
  const block = randomBytes(MiB);
  for (let c = 0; c < N; c++) { block.writeUInt32BE(c, 0); block.writeUInt32BE(Math.random() * 2 ** 32, 4); for (let o = 0; o < MiB; o += 65536) yield block.subarray(o, o + 65536); }
}
async function stat() { const [l] = (await readFile('/proc/stat', 'utf8')).split('\n'); const v = l!.trim().split(/\s+/).slice(1).map(Number); return { total: v.reduce((a, b) => a + b, 0), idle: v[3]!, iowait: v[4]! }; }
const sync = process.env.SYNC !== '0';
for (let i = 0; i < 2; i++) {
  const root = await mkdtemp('/tmp/ferry-fsrun-');
  const store = createChunkStore({ driver: await createFsBlobDriver({ root, sync }) });
  const s0 = await stat(); const c0 = process.cpuUsage(); const t = performance.now();
  await ingestImage(store, generated());
  const w = (performance.now() - t) / 1000; const c = process.cpuUsage(c0); const s1 = await stat();
  const dt = s1.total - s0.total;
  console.log(`sync=${sync} ${(N / w).toFixed(0)} MiB/s wall ${w.toFixed(2)} proc user ${(c.user / 1e6).toFixed(2)} sys ${(c.system / 1e6).toFixed(2)} | machine idle ${(100 * (s1.idle - s0.idle) / dt).toFixed(0)}% iowait ${(100 * (s1.iowait - s0.iowait) / dt).toFixed(0)}%`);
  await rm(root, { recursive: true });
}
