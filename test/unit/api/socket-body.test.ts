// Reading a Content-Length body straight from the socket into the caller's buffers: every byte arrives in
// order whatever the client's pacing, nothing past the body is taken, and once the reader is done or
// cancelled no byte lands in a buffer it was given.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { test, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { takeBody, type SocketBody } from '../../../src/api/socket-body.js';

const KiB = 1024;

async function serve(
  t: TestContext,
  handler: (request: IncomingMessage, response: ServerResponse) => Promise<void>,
): Promise<number> {
  const server: Server = createServer((request, response) => {
    handler(request, response).catch((error: unknown) => {
      response.statusCode = 500;
      response.setHeader('connection', 'close');
      response.end(String(error));
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  return (server.address() as AddressInfo).port;
}

/** Reads the whole body in targets of `size` bytes of one reused buffer; answers its length and MD5. */
async function readAll(body: SocketBody, size: number): Promise<{ length: number; md5: string }> {
  const buffer = Buffer.alloc(size);
  const md5 = createHash('md5');
  let length = 0;
  for (;;) {
    const count = await body.readInto(buffer);
    if (count === 0) return { length, md5: md5.digest('hex') };
    md5.update(buffer.subarray(0, count));
    length += count;
  }
}

/**
 * Sends `head` and then `pieces` with `pauseMs` between them on a raw connection, then ends its side if
 * `end`; resolves with the answer once the server has closed the connection.
 */
async function rawRequest(
  port: number,
  head: string,
  pieces: Buffer[],
  pauseMs = 0,
  end = false,
): Promise<string> {
  const socket = connect(port, '127.0.0.1');
  await once(socket, 'connect');
  const answer: Buffer[] = [];
  // From the start: the server may answer and close before the client has written everything.
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.on('error', () => undefined); // writes after the server closed
  socket.on('data', (data: Buffer) => answer.push(data));
  socket.write(head);
  for (const piece of pieces) {
    if (pauseMs > 0) await sleep(pauseMs);
    if (!socket.destroyed) socket.write(piece);
  }
  if (end && !socket.destroyed) socket.end();
  await closed;
  return Buffer.concat(answer).toString('latin1');
}

function head(length: number, extra = ''): string {
  return `PUT /data HTTP/1.1\r\nhost: x\r\ncontent-length: ${length}\r\n${extra}\r\n`;
}

test('a body arrives whole and in order, in targets smaller and larger than a socket read', async (t) => {
  const port = await serve(t, async (request, response) => {
    await sleep(20); // the route's own work first: the parser has read part of the body meanwhile
    const body = takeBody(request);
    assert.ok(body, 'a Content-Length body is taken from the socket');
    const size = Number(request.url?.slice(1));
    const { length, md5 } = await readAll(body, size);
    response.setHeader('connection', 'close');
    response.end(`${length} ${md5}`);
  });
  const data = randomBytes(3 * 1024 * KiB + 7);
  const expected = `${data.length} ${createHash('md5').update(data).digest('hex')}`;
  for (const size of [1000, 64 * KiB, 1024 * KiB]) {
    const answer = await fetch(`http://127.0.0.1:${port}/${size}`, { method: 'PUT', body: data });
    assert.equal(answer.status, 200);
    assert.equal(answer.headers.get('connection'), 'close');
    assert.equal(await answer.text(), expected);
  }
});

test('a body sent slowly in small pieces arrives whole', async (t) => {
  const port = await serve(t, async (request, response) => {
    const body = takeBody(request);
    assert.ok(body);
    const { length, md5 } = await readAll(body, 256 * KiB);
    response.setHeader('connection', 'close');
    response.end(`${length} ${md5}`);
  });
  const pieces = Array.from({ length: 20 }, () => randomBytes(3000));
  const all = Buffer.concat(pieces);
  const answer = await rawRequest(port, head(all.length), pieces, 5);
  assert.match(answer, /^HTTP\/1\.1 200/);
  assert.ok(answer.endsWith(`${all.length} ${createHash('md5').update(all).digest('hex')}`), answer);
});

test('bytes after the body are not taken as body, and the connection ends with the answer', async (t) => {
  let served = 0;
  const port = await serve(t, async (request, response) => {
    served++;
    await sleep(20);
    const body = takeBody(request);
    if (body === undefined) {
      // Already read whole by the parser: the caller reads the stream (not this test's subject).
      response.end('stream');
      return;
    }
    const { length } = await readAll(body, 64 * KiB);
    response.setHeader('connection', 'close');
    response.end(`body ${length}`);
  });
  const data = randomBytes(512 * KiB);
  const pipelined = Buffer.from('GET /next HTTP/1.1\r\nhost: x\r\n\r\n');
  // The body's tail and the next request in one write: they may arrive in one read.
  const answer = await rawRequest(
    port,
    head(data.length),
    [data.subarray(0, 100 * KiB), Buffer.concat([data.subarray(100 * KiB), pipelined])],
    30,
  );
  assert.match(answer, /body 524288$/);
  assert.equal(served, 1, 'the pipelined request is not served on a connection whose body was taken');
});

test('a client that closes before the end makes the read reject', async (t) => {
  let reported!: (outcome: string) => void;
  const outcome = new Promise<string>((resolve) => (reported = resolve));
  const port = await serve(t, async (request, response) => {
    const body = takeBody(request);
    assert.ok(body);
    await readAll(body, 64 * KiB).then(
      () => reported('resolved'),
      (error: Error) => reported(error.message),
    );
    response.destroy();
  });
  await rawRequest(port, head(1024 * KiB), [randomBytes(100 * KiB)], 20, true).catch(() => undefined);
  assert.match(await outcome, /closed the connection/);
});

test('after cancel, no byte lands in a buffer the reader was given', async (t) => {
  const given = Buffer.alloc(4 * 1024 * KiB);
  let report!: (untouched: boolean) => void;
  const checked = new Promise<boolean>((resolve) => (report = resolve));
  const port = await serve(t, async (request, response) => {
    const body = takeBody(request);
    assert.ok(body);
    const pending = body.readInto(given);
    await sleep(60); // part of the target is filled, not all of it
    body.cancel(new Error('refused'));
    await assert.rejects(pending, /refused/);
    given.fill(0);
    request.socket.resume(); // whatever restarts the socket's reads (the HTTP server may)
    await sleep(200); // the client goes on sending meanwhile
    report(given.every((byte) => byte === 0));
    response.setHeader('connection', 'close');
    response.end('refused');
  });
  const sent = rawRequest(
    port,
    head(8 * 1024 * KiB),
    Array.from({ length: 32 }, () => Buffer.alloc(256 * KiB, 0xff)),
    10,
  );
  assert.equal(await checked, true);
  await sent;
});
