import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createChunkStore } from '../src/blobs/chunk-store.js';
import { createFsBlobDriver } from '../src/blobs/drivers/fs.js';
import { ingestImage } from '../src/blobs/ingest.js';
const mb = (n: number) => (n / 2 ** 20).toFixed(0);
console.log('start rss', mb(process.memoryUsage().rss));
const PIECE = 256 * 1024;
async function* src() { const zero = Buffer.alloc(PIECE);
  for (let c = 0; c < 8192; c++) { if (c % 128 === 64) { const d = randomBytes(1 << 20); for (let o = 0; o < 1 << 20; o += PIECE) yield d.subarray(o, o + PIECE); } else for (let o = 0; o < 1 << 20; o += PIECE) yield zero; } }
const t = setInterval(() => { const m = process.memoryUsage(); console.log('rss', mb(m.rss), 'heap', mb(m.heapTotal), 'used', mb(m.heapUsed), 'ext', mb(m.external), 'ab', mb(m.arrayBuffers)); }, 1000);
const root = await mkdtemp('/tmp/ferry-rss-');
await ingestImage(createChunkStore({ driver: await createFsBlobDriver({ root }) }), src());
clearInterval(t);
console.log('end rss', mb(process.memoryUsage().rss));
await rm(root, { recursive: true });
