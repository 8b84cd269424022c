// A destination lane's chunk batch exchange: a BatchConnection reading a source's answer into a ChunkReceiver.
// The source here is a raw TCP (or TLS) server that writes scripted answers byte by byte as a real or broken
// peer could: every way the answer can be wrong must be refused without storing a bad chunk.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { after, test } from 'node:test';
import { createServer as createTlsServer } from 'node:tls';
import { createChunkStore, DigestMismatchError, sha256Digest } from '../../../src/blobs/chunk-store.js';
import { createMemoryBlobDriver } from '../../../src/blobs/drivers/memory.js';
import { BatchConnection } from '../../../src/replication/batch-connection.js';
import { BatchStreamError, ChunkReceiver, type BatchChunk } from '../../../src/replication/chunk-batch.js';
import { RegionCallError } from '../../../src/replication/region-call.js';
import type { Digest } from '../../../src/domain/ids.js';
import { makeTestCa } from '../../helpers/tls.js';
import { makeTempDir } from '../../helpers/tmp.js';

const LENGTHS = [4096, 4096, 4096, 1000];
const CHUNK_BYTES = 4096;

interface Received {
  readonly head: string;
  readonly body: unknown;
}

/**
 * Answers each request with `answer(request, socket)`; records the requests. With `tls` (a certificate and
 * key), over TLS at an https URL.
 */
async function startSource(
  answer: (request: Received, socket: Socket) => void,
  tls?: { cert: Buffer; key: Buffer },
): Promise<{
  server: Server;
  url: URL;
  requests: Received[];
}> {
  const requests: Received[] = [];
  const serve = (socket: Socket) => {
    let pending = Buffer.alloc(0);
    socket.on('data', (data) => {
      pending = Buffer.concat([pending, data]);
      for (;;) {
        const end = pending.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = pending.subarray(0, end).toString('latin1');
        const length = Number(/content-length: (\d+)/i.exec(head)?.[1] ?? 0);
        if (pending.length < end + 4 + length) return;
        const body = JSON.parse(pending.subarray(end + 4, end + 4 + length).toString('utf8')) as unknown;
        pending = pending.subarray(end + 4 + length);
        const request = { head, body };
        requests.push(request);
        answer(request, socket);
      }
    });
    socket.on('error', () => undefined);
  };
  const server: Server = tls === undefined ? createServer(serve) : createTlsServer(tls, serve);
  if (tls !== undefined) server.on('tlsClientError', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { server, url: new URL(`${tls ? 'https' : 'http'}://127.0.0.1:${port}`), requests };
}

function makeChunks(): { chunks: BatchChunk[]; bodies: Buffer[] } {
  const bodies = LENGTHS.map((length) => randomBytes(length));
  return { bodies, chunks: bodies.map((data) => ({ digest: sha256Digest(data), length: data.length })) };
}

/** Writes `data` in pieces of `pieceSize` with a pause between them, so reads split anywhere. */
async function writeInPieces(socket: Socket, data: Buffer, pieceSize: number): Promise<void> {
  for (let at = 0; at < data.length; at += pieceSize) {
    socket.write(data.subarray(at, at + pieceSize));
    await new Promise((resolve) => setImmediate(resolve));
  }
}

function head(status: number, length: number, extra = ''): Buffer {
  return Buffer.from(`HTTP/1.1 ${status} X\r\ncontent-length: ${length}\r\n${extra}\r\n`, 'latin1');
}

function receiverFor(
  chunks: BatchChunk[],
  store = createChunkStore({ driver: createMemoryBlobDriver() }),
  stored: BatchChunk[] = [],
) {
  const buffers: [Buffer, Buffer] = [Buffer.alloc(CHUNK_BYTES), Buffer.alloc(CHUNK_BYTES)];
  return {
    store,
    stored,
    receiver: new ChunkReceiver(chunks, store, { buffers, onStored: (c) => stored.push(c) }),
  };
}

const NO_ABORT = new AbortController().signal;

/** One batch exchange on a connection of its own. */
async function postOnce(url: URL, receiver: ChunkReceiver): Promise<void> {
  const connection = new BatchConnection('north-1', url, {});
  try {
    await connection.post('/c', {}, receiver, NO_ABORT);
  } finally {
    connection.close();
  }
}

/** Every chunk was reported stored, in order, and the store holds its bytes. */
async function assertStored(
  store: { getChunk(digest: Digest): Promise<Buffer> },
  chunks: BatchChunk[],
  stored: BatchChunk[],
  bodies: Buffer[],
): Promise<void> {
  assert.deepEqual(stored, chunks);
  for (const [index, chunk] of chunks.entries())
    assert.ok((await store.getChunk(chunk.digest)).equals(bodies[index]!));
}

/** `inner`, each chunk's store 20 ms late: a disk slower than the network. */
function slowStore(inner: ReturnType<typeof createChunkStore>) {
  return {
    ...inner,
    putChunk: async (...args: Parameters<typeof inner.putChunk>) => {
      await new Promise((resolve) => setTimeout(resolve, 20));
      return inner.putChunk(...args);
    },
  };
}

test('chunks arrive in any pieces, each is stored with its own bytes, and the connection is reused', async () => {
  const { chunks, bodies } = makeChunks();
  const payload = Buffer.concat(bodies);
  let connections = 0;
  const source = await startSource((_request, socket) => {
    void writeInPieces(socket, Buffer.concat([head(200, payload.length), payload]), 777);
  });
  source.server.on('connection', () => connections++);
  const connection = new BatchConnection('north-1', source.url, { 'x-ferry-grant': 'g1' });
  try {
    for (let round = 0; round < 2; round++) {
      const { store, stored, receiver } = receiverFor(chunks);
      await connection.post('/internal/v1/grants/j/chunks', { digests: ['a'] }, receiver, NO_ABORT);
      assert.deepEqual(stored, chunks, 'all stored, in order');
      for (const [index, chunk] of chunks.entries())
        assert.ok((await store.getChunk(chunk.digest)).equals(bodies[index]!));
    }
  } finally {
    connection.close();
  }
  assert.equal(connections, 1, 'one keep-alive connection for both batches');
  assert.equal(source.requests.length, 2);
  assert.match(source.requests[0]!.head, /^POST \/internal\/v1\/grants\/j\/chunks HTTP\/1\.1/);
  assert.match(source.requests[0]!.head, /x-ferry-grant: g1/);
  assert.deepEqual(source.requests[0]!.body, { digests: ['a'] });
});

test('a slow store holds the socket back instead of buffering the batch, and still stores every chunk', async () => {
  const { chunks, bodies } = makeChunks();
  const payload = Buffer.concat(bodies);
  const source = await startSource((_request, socket) => {
    socket.write(Buffer.concat([head(200, payload.length), payload])); // all at once
  });
  const inner = createChunkStore({ driver: createMemoryBlobDriver() });
  const slow = slowStore(inner);
  const { stored, receiver } = receiverFor(chunks, slow);
  await postOnce(source.url, receiver);
  await assertStored(inner, chunks, stored, bodies);
});

test('after a slow store held the socket back, reading resumes straight into the chunk buffer, not through a copy', async () => {
  const size = 256 * 1024;
  const bodies = Array.from({ length: 8 }, () => randomBytes(size));
  const chunks = bodies.map((data) => ({ digest: sha256Digest(data), length: data.length }));
  const payload = Buffer.concat(bodies);
  const source = await startSource((_request, socket) => {
    socket.write(Buffer.concat([head(200, payload.length), payload]));
  });
  const inner = createChunkStore({ driver: createMemoryBlobDriver() });
  const slow = slowStore(inner);
  const stored: BatchChunk[] = [];
  const buffers: [Buffer, Buffer] = [Buffer.alloc(size), Buffer.alloc(size)];
  const receiver = new ChunkReceiver(chunks, slow, { buffers, onStored: (c) => stored.push(c) });
  // Bytes read anywhere but into a chunk buffer reach the receiver through take (a copy).
  let copied = 0;
  const take = receiver.take.bind(receiver);
  receiver.take = (bytes) => {
    copied += bytes.length;
    take(bytes);
  };
  await postOnce(source.url, receiver);
  await assertStored(inner, chunks, stored, bodies);
  // Only the read that carried the head (into the connection's 64 KiB scratch) is copied; the store held
  // the socket back about six times.
  assert.ok(copied <= 64 * 1024, `${copied} bytes copied`);
});

test('a corrupt chunk is refused and not stored; the chunks before it are', async () => {
  const { chunks, bodies } = makeChunks();
  const payload = Buffer.concat(bodies);
  payload.writeUInt8(payload.readUInt8(2 * CHUNK_BYTES + 10) ^ 0xff, 2 * CHUNK_BYTES + 10); // third chunk
  const source = await startSource((_request, socket) => {
    void writeInPieces(socket, Buffer.concat([head(200, payload.length), payload]), 1500);
  });
  const { store, stored, receiver } = receiverFor(chunks);
  const connection = new BatchConnection('north-1', source.url, {});
  try {
    await assert.rejects(connection.post('/c', {}, receiver, NO_ABORT), DigestMismatchError);
  } finally {
    connection.close();
  }
  assert.deepEqual(
    stored.slice(0, 2).map((c) => c.digest),
    [chunks[0]!.digest, chunks[1]!.digest],
  );
  assert.equal(await store.hasChunk(chunks[2]!.digest), false, 'the corrupt chunk is not stored');
});

test('an answer cut short, too long, or of the wrong length is a BatchStreamError', async (t) => {
  const { chunks, bodies } = makeChunks();
  const payload = Buffer.concat(bodies);
  const cases: Array<[string, (socket: Socket) => void]> = [
    [
      'closed mid-body',
      (socket) => {
        socket.write(Buffer.concat([head(200, payload.length), payload.subarray(0, 5000)]));
        socket.end();
      },
    ],
    [
      'announces another length',
      (socket) => socket.write(Buffer.concat([head(200, 10), payload.subarray(0, 10)])),
    ],
    [
      'sends more than it announced',
      (socket) => socket.write(Buffer.concat([head(200, payload.length), payload, Buffer.from('extra')])),
    ],
    [
      'chunked encoding',
      (socket) => socket.write(Buffer.from('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n')),
    ],
    ['not HTTP', (socket) => socket.write(Buffer.from('SSH-2.0-OpenSSH\r\n\r\n'))],
  ];
  for (const [name, answer] of cases) {
    await t.test(name, async () => {
      const source = await startSource((_request, socket) => answer(socket));
      const { store, receiver } = receiverFor(chunks);
      const connection = new BatchConnection('north-1', source.url, {});
      try {
        await assert.rejects(connection.post('/c', {}, receiver, NO_ABORT), BatchStreamError);
      } finally {
        connection.close();
      }
      if (name !== 'sends more than it announced') {
        assert.equal(
          await store.hasChunk(chunks[3]!.digest),
          false,
          'the incomplete last chunk is not stored',
        );
      }
    });
  }
});

test("the source's refusal becomes a RegionCallError with its code; a 5xx is transient", async () => {
  const { chunks } = makeChunks();
  for (const [status, transient] of [
    [404, false],
    [503, true],
  ] as const) {
    const error = Buffer.from(
      JSON.stringify({ error: { code: 'GRANT_NOT_FOUND', message: 'no such grant' } }),
    );
    const source = await startSource((_request, socket) => {
      socket.write(Buffer.concat([head(status, error.length, 'content-type: application/json\r\n'), error]));
    });
    const { receiver } = receiverFor(chunks);
    const connection = new BatchConnection('north-1', source.url, {});
    try {
      const failure = await connection.post('/c', {}, receiver, NO_ABORT).then(
        () => assert.fail('resolved'),
        (e: unknown) => e,
      );
      assert.ok(failure instanceof RegionCallError);
      assert.equal(failure.status, status);
      assert.equal(failure.code, 'GRANT_NOT_FOUND');
      assert.equal(failure.transient, transient);
    } finally {
      connection.close();
    }
  }
});

test('an unreachable source is a transient RegionCallError; an abort ends a stalled exchange', async () => {
  const { chunks } = makeChunks();
  const closed = await startSource(() => undefined);
  const port = closed.url.port;
  await new Promise<void>((resolve) => closed.server.close(() => resolve()));
  const unreachable = new BatchConnection('north-1', new URL(`http://127.0.0.1:${port}`), {});
  const failure = await unreachable.post('/c', {}, receiverFor(chunks).receiver, NO_ABORT).then(
    () => assert.fail('resolved'),
    (e: unknown) => e,
  );
  assert.ok(failure instanceof RegionCallError && failure.transient);

  const stalled = await startSource((_request, socket) => socket.write(head(200, 13288))); // head, then nothing
  const connection = new BatchConnection('north-1', stalled.url, {});
  const abort = new AbortController();
  const reason = new Error('job cancelled');
  setTimeout(() => abort.abort(reason), 50);
  try {
    await assert.rejects(
      connection.post('/c', {}, receiverFor(chunks).receiver, abort.signal),
      (e) => e === reason,
    );
  } finally {
    connection.close();
  }
});

test('over TLS: chunks in any pieces and a slow store, on one connection; a certificate the CA did not sign is refused', async (t) => {
  const dir = await makeTempDir(t);
  const ca = await makeTestCa(dir, 'regions-ca');
  const other = await makeTestCa(dir, 'other-ca');
  const issued = await ca.issue('north-1');
  const pem = await readFile(ca.caFile, 'utf8');
  const { chunks, bodies } = makeChunks();
  const payload = Buffer.concat(bodies);
  let connections = 0;
  let pieces = true;
  const source = await startSource(
    (_request, socket) => {
      const answer = Buffer.concat([head(200, payload.length), payload]);
      if (pieces) void writeInPieces(socket, answer, 777);
      else socket.write(answer);
    },
    { cert: await readFile(issued.certFile), key: await readFile(issued.keyFile) },
  );
  assert.equal(source.url.protocol, 'https:');
  source.server.on('secureConnection', () => connections++);

  const connection = new BatchConnection('north-1', source.url, { 'x-ferry-grant': 'g1' }, { ca: [pem] });
  try {
    const first = receiverFor(chunks);
    await connection.post('/c', { digests: ['a'] }, first.receiver, NO_ABORT);
    await assertStored(first.store, chunks, first.stored, bodies);
    pieces = false; // all at once, into a store slower than the network: the socket is held back
    const inner = createChunkStore({ driver: createMemoryBlobDriver() });
    const slow = receiverFor(chunks, slowStore(inner));
    await connection.post('/c', { digests: ['a'] }, slow.receiver, NO_ABORT);
    await assertStored(inner, chunks, slow.stored, bodies);
  } finally {
    connection.close();
  }
  assert.equal(connections, 1, 'one keep-alive TLS connection for both batches');
  assert.match(source.requests[0]!.head, /x-ferry-grant: g1/, 'the request went through the TLS session');

  const otherPem = await readFile(other.caFile, 'utf8');
  const untrustedCases: Array<[string, { ca?: string[] }]> = [
    ['another CA', { ca: [otherPem] }],
    ["Node's roots alone", {}],
  ];
  for (const [name, tls] of untrustedCases) {
    const untrusted = new BatchConnection('north-1', source.url, {}, tls);
    const failure = await untrusted.post('/c', {}, receiverFor(chunks).receiver, NO_ABORT).then(
      () => assert.fail(`${name}: resolved`),
      (e: unknown) => e,
    );
    untrusted.close();
    assert.ok(failure instanceof RegionCallError, name);
    assert.match(failure.message, /north-1 unreachable: .*certificate/, name);
  }
  assert.equal(source.requests.length, 2, 'nothing was sent to the source without a trusted certificate');
});

test('an https endpoint is never spoken to in plain text: a plain HTTP server there fails the call', async () => {
  const { chunks } = makeChunks();
  // What a plain HTTP server does with a TLS handshake: reads it as a malformed request, answers 400, closes.
  const firstBytes: Buffer[] = [];
  const plain = createServer((socket) => {
    socket.on('error', () => undefined);
    socket.once('data', (data) => {
      firstBytes.push(data);
      socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
    });
  });
  await new Promise<void>((resolve) => plain.listen(0, '127.0.0.1', resolve));
  const { port } = plain.address() as { port: number };
  const connection = new BatchConnection('north-1', new URL(`https://127.0.0.1:${port}`), {});
  try {
    const failure = await connection.post('/c', {}, receiverFor(chunks).receiver, NO_ABORT).then(
      () => assert.fail('resolved'),
      (e: unknown) => e,
    );
    assert.ok(failure instanceof RegionCallError, String(failure));
  } finally {
    connection.close();
    plain.close();
  }
  assert.equal(firstBytes.length, 1, 'the client connected');
  // 0x16: a TLS handshake record; a plain request would begin "POST".
  assert.equal(
    firstBytes[0]![0],
    0x16,
    `the client sent ${firstBytes[0]!.subarray(0, 8).toString('latin1')}`,
  );
});
