/**
 * The upload's CPU floor, run by bench/run.ts as a child process (so the bench process, whose Node client
 * downloads are measured too, loads none of this): Ferry's own `ingestImage` of a file (chunking, zero
 * check, SHA-256 per chunk, MD5 and SHA-512 of the whole image on worker threads) into a chunk store that
 * keeps nothing, i.e. an upload without its network and its disk.
 *
 *   node --import tsx bench/ingest-floor.ts FILE   → one JSON line: { seconds, cpuSeconds, size, md5 }
 *
 * The file is read in 1 MiB pieces from the page cache. In 64 KiB pieces (what the server's socket gives)
 * the main thread took ~0.55 s more per 2 GiB: part of the network's share, left out here.
 * @module
 */
import { createReadStream } from 'node:fs';
import { createChunkStore } from '../src/blobs/chunk-store.js';
import type { BlobDriver } from '../src/blobs/driver.js';
import { createMemoryBlobDriver } from '../src/blobs/drivers/memory.js';
import { ingestImage } from '../src/blobs/ingest.js';

const file = process.argv[2];
if (file === undefined) throw new Error('usage: node --import tsx bench/ingest-floor.ts FILE');

// Puts are dropped and nothing is ever found stored, so every chunk is hashed and "written".
const keepsNothing: BlobDriver = {
  ...createMemoryBlobDriver(),
  name: 'keeps-nothing',
  put: () => Promise.resolve(),
  touch: () => Promise.resolve(false),
};
const cpu = process.cpuUsage();
const started = performance.now();
const result = await ingestImage(
  createChunkStore({ driver: keepsNothing }),
  createReadStream(file, { highWaterMark: 1024 * 1024 }),
);
const seconds = (performance.now() - started) / 1000;
const used = process.cpuUsage(cpu);
console.log(
  JSON.stringify({
    seconds,
    cpuSeconds: (used.user + used.system) / 1e6,
    size: result.size,
    md5: result.md5,
  }),
);
