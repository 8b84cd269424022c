// The destination's reading of a chunk batch: chunks cut by the manifest's lengths, each verified and stored
// as it completes, and every way the stream can be wrong refused without storing a bad chunk.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { createChunkStore, DigestMismatchError, sha256Digest } from '../../../src/blobs/chunk-store.js';
import { createMemoryBlobDriver } from '../../../src/blobs/drivers/memory.js';
import { BatchStreamError, storeChunkBatch, type BatchChunk } from '../../../src/replication/chunk-batch.js';

const LENGTHS = [1024, 1024, 1024, 300];

function makeChunks(): { chunks: BatchChunk[]; bodies: Buffer[] } {
  const bodies = LENGTHS.map((length) => randomBytes(length));
  return { bodies, chunks: bodies.map((data) => ({ digest: sha256Digest(data), length: data.length })) };
}

/** The batch's bytes in pieces of `pieceSize`, so chunk boundaries fall inside pieces. */
function pieces(data: Buffer, pieceSize: number, failAfter?: number): Readable {
  return Readable.from(generatePieces(data, pieceSize, failAfter), { objectMode: false });
}

async function* generatePieces(data: Buffer, pieceSize: number, failAfter?: number): AsyncGenerator<Buffer> {
  for (let at = 0; at < data.length; at += pieceSize) {
    if (failAfter !== undefined && at >= failAfter)
      throw Object.assign(new Error('aborted'), { code: 'ECONNRESET' });
    yield data.subarray(at, at + pieceSize);
  }
}

function buffers(): [Buffer, Buffer] {
  return [Buffer.alloc(1024), Buffer.alloc(1024)];
}

test('a batch is cut by the given lengths, and every chunk is stored with its own bytes', async () => {
  const store = createChunkStore({ driver: createMemoryBlobDriver() });
  const { chunks, bodies } = makeChunks();
  const stored: BatchChunk[] = [];
  for (const pieceSize of [7, 1024, 5000]) {
    stored.length = 0;
    await storeChunkBatch(pieces(Buffer.concat(bodies), pieceSize), chunks, store, {
      buffers: buffers(),
      onStored: (chunk) => stored.push(chunk),
    });
    assert.deepEqual(stored, chunks, `pieces of ${pieceSize}: all stored, in order`);
    for (const [index, chunk] of chunks.entries())
      assert.ok((await store.getChunk(chunk.digest)).equals(bodies[index]!));
  }
});

test('a corrupt chunk is refused and not stored; the chunks before it are stored', async () => {
  const store = createChunkStore({ driver: createMemoryBlobDriver() });
  const { chunks, bodies } = makeChunks();
  const data = Buffer.concat(bodies);
  data.writeUInt8(data.readUInt8(2058) ^ 0xff, 2058); // inside the third chunk
  const stored: string[] = [];
  await assert.rejects(
    storeChunkBatch(pieces(data, 100), chunks, store, {
      buffers: buffers(),
      onStored: (c) => stored.push(c.digest),
    }),
    DigestMismatchError,
  );
  // The chunks before it are stored (the one after it may be too: chunks are independent objects).
  assert.deepEqual(stored.slice(0, 2), [chunks[0]!.digest, chunks[1]!.digest]);
  assert.ok(!stored.includes(chunks[2]!.digest));
  assert.equal(await store.hasChunk(chunks[2]!.digest), false, 'the corrupt chunk is not stored');
});

test('a short, a long or a broken stream is a BatchStreamError, worth another try', async () => {
  const store = createChunkStore({ driver: createMemoryBlobDriver() });
  const { chunks, bodies } = makeChunks();
  const data = Buffer.concat(bodies);
  const options = { buffers: buffers(), onStored: () => undefined };
  await assert.rejects(
    storeChunkBatch(pieces(data.subarray(0, 2500), 100), chunks, store, options),
    (error) => {
      assert.ok(error instanceof BatchStreamError);
      assert.match(error.message, /ended after 2 of 4 chunks/);
      return true;
    },
  );
  await assert.rejects(
    storeChunkBatch(pieces(Buffer.concat([data, Buffer.alloc(1)]), 100), chunks, store, options),
    /more bytes than were asked for/,
  );
  await assert.rejects(storeChunkBatch(pieces(data, 100, 1500), chunks, store, options), (error) => {
    assert.ok(error instanceof BatchStreamError);
    assert.match(error.message, /stream broke: aborted/);
    return true;
  });
});

test("the store's own failure passes through unchanged, after every write has ended", async () => {
  const failing = createChunkStore({ driver: createMemoryBlobDriver() });
  const { chunks, bodies } = makeChunks();
  let writesInFlight = 0;
  const store = {
    async putChunk(digest: Parameters<typeof failing.putChunk>[0], data: Uint8Array) {
      writesInFlight += 1;
      try {
        await new Promise((resolve) => setTimeout(resolve, 5));
        if (digest === chunks[1]!.digest) throw new Error('disk full');
        return await failing.putChunk(digest, data);
      } finally {
        writesInFlight -= 1;
      }
    },
  };
  await assert.rejects(
    storeChunkBatch(pieces(Buffer.concat(bodies), 64), chunks, store, {
      buffers: buffers(),
      onStored: () => undefined,
    }),
    /disk full/,
  );
  assert.equal(writesInFlight, 0, 'no write outlives the call: its buffers are free');
});
