import { createChunkStore } from '../src/blobs/chunk-store.js';
import { createMemoryBlobDriver } from '../src/blobs/drivers/memory.js';
import { ingestImage } from '../src/blobs/ingest.js';
const mb = (n: number) => (n / 2 ** 20).toFixed(0);
console.log('start rss', mb(process.memoryUsage().rss));
const zero = Buffer.alloc(256 * 1024);
async function* src() { for (let i = 0; i < 4 * 4096; i++) yield zero; }
const t = setInterval(() => { const m = process.memoryUsage(); console.log('rss', mb(m.rss), 'heap', mb(m.heapTotal), 'ext', mb(m.external), 'ab', mb(m.arrayBuffers)); }, 1000);
await ingestImage(createChunkStore({ driver: createMemoryBlobDriver() }), src());
clearInterval(t);
console.log('end rss', mb(process.memoryUsage().rss));
