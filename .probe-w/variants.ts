import { randomBytes, webcrypto } from 'node:crypto';
import { mkdtemp, rm, readFile } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { createChunkStore, type ChunkStore } from '../src/blobs/chunk-store.js';
import { createFsBlobDriver } from '../src/blobs/drivers/fs.js';
import type { BlobDriver } from '../src/blobs/driver.js';
import { chunkKey } from '../src/blobs/layout.js';
import type { Digest } from '../src/domain/ids.js';
import { ingestImage } from '../src/blobs/ingest.js';
const MiB = 1 << 20; const N = Number(process.env.N ?? 1024);
async function* generated(): AsyncGenerator<Buffer> {
  const block = randomBytes(MiB);
  for (let c = 0; c < N; c++) { block.writeUInt32BE(c, 0); block.writeUInt32BE(Math.random() * 2 ** 32, 4); for (let o = 0; o < MiB; o += 65536) yield block.subarray(o, o + 65536); }
}
const nullDriver: BlobDriver = { name: 'null', capabilities: { maxParallelism: 8 }, put: async () => {}, get: async () => Buffer.alloc(0), has: async () => false, delete: async () => {}, list: async function* () {} };
function subtleStore(driver: BlobDriver): ChunkStore {
  const base = createChunkStore({ driver });
  return { ...base, async addChunk(data) {
    const copy = Buffer.from(data); // WebCrypto refuses SharedArrayBuffer views
    const digest = Buffer.from(await webcrypto.subtle.digest('SHA-256', copy)).toString('hex') as Digest;
    const key = chunkKey(digest); if (await driver.has(key)) return { digest, written: false };
    await driver.put(key, copy); return { digest, written: true };
  } };
}
const variants = (process.env.V ?? 'sync,subtle').split(',');
const drv = process.env.D ?? 'null';
const results: Record<string, number[]> = {};
for (let r = 0; r < Number(process.env.R ?? 3); r++) for (const v of variants) {
  const root = await mkdtemp('/tmp/ferry-var-');
  const driver = drv === 'null' ? nullDriver : await createFsBlobDriver({ root, sync: drv === 'fs' });
  const store = v === 'subtle' ? subtleStore(driver) : createChunkStore({ driver });
  execFileSync('/tmp/ferry-probe/waitidle.sh');
  const st = async () => (await readFile('/proc/stat', 'utf8')).split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const s0 = await st(); const c0 = process.cpuUsage();
  const t = performance.now();
  await ingestImage(store, generated());
  const wall = (performance.now() - t) / 1000;
  const s1 = await st(); const c = process.cpuUsage(c0); const d = s1.map((x, i) => x - s0[i]!); const tot = d.reduce((a, b) => a + b, 0);
  const busyCores = 2 * (1 - (d[3]! + d[4]!) / tot); const mine = (c.user + c.system) / 1e6 / wall;
  const other = busyCores - mine;
  console.log(v, Math.round(N / wall), 'MiB/s', 'mine', mine.toFixed(2), 'other', other.toFixed(2));
  if (other < 0.15) (results[v] ??= []).push(Math.round(N / wall));
  await rm(root, { recursive: true });
}
console.log(`driver=${drv}`, JSON.stringify(results));
