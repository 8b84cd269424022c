import { randomBytes } from 'node:crypto';
import { createChunkStore } from '../src/blobs/chunk-store.js';
import { createMemoryBlobDriver } from '../src/blobs/drivers/memory.js';
import type { BlobDriver } from '../src/blobs/driver.js';
import { ingestImage } from '../src/blobs/ingest.js';
const MiB = 1 << 20; const N = 1024;
async function* generated(): AsyncGenerator<Buffer> {
  const block = randomBytes(MiB);
  for (let c = 0; c < N; c++) { block.writeUInt32BE(c, 0); block.writeUInt32BE(Math.random() * 2 ** 32, 4); for (let o = 0; o < MiB; o += 65536) yield block.subarray(o, o + 65536); }
}
const nullDriver: BlobDriver = { name: 'null', capabilities: { maxParallelism: 8 }, put: async () => {}, get: async () => Buffer.alloc(0), has: async () => false, delete: async () => {}, list: async function* () {} };
for (const [name, driver] of [['null', nullDriver], ['memory', createMemoryBlobDriver()]] as const) {
  for (let i = 0; i < 2; i++) {
    const t = performance.now(); const cpu = process.cpuUsage();
    await ingestImage(createChunkStore({ driver }), generated());
    const s = (performance.now() - t) / 1000; const c = process.cpuUsage(cpu);
    console.log(name, (N / s).toFixed(0), 'MiB/s', 'cpu(all threads) user', (c.user / 1e6).toFixed(2), 'sys', (c.system / 1e6).toFixed(2), 'wall', s.toFixed(2));
  }
}
