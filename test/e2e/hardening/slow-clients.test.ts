// Issue 20, rows 2 and 12: a client that is slow on purpose holds nothing for long. A request body that
// stops arriving is answered 408 and its connection closed; region-to-region calls are refused before their
// body; an idle socket is closed; one client address holds a bounded number of connections; an upload
// trickled below the minimum rate is cut off. An honest client (a body in pieces, an upload that takes
// longer than the request deadline at a normal rate) is unaffected. With FERRY_TEST_TLS=1 the same guards are
// checked on the TLS sockets of an HTTPS region.
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { connect as connectTls } from 'node:tls';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import { api, startTestDeployment, type TestDeployment } from '../../helpers/deployment.js';
import { pseudoRandom } from '../../helpers/replication.js';
import { TEST_TLS, testDeploymentCa } from '../../helpers/tls.js';

const LIMITS = {
  requestTimeoutMs: 800,
  idleSocketTimeoutMs: 1500,
  maxConnectionsPerClient: 8,
  uploadGraceMs: 600,
  uploadMinBytesPerSecond: 64 * 1024,
  uploadIdleTimeoutMs: 3000,
};

interface RawExchange {
  socket: Socket;
  /** Everything the server sent until it closed the connection. */
  answer: Promise<string>;
}

/**
 * Opens a raw connection to the region (TLS for an https region) and sends `head` (and no body yet). A
 * connection the server closes before it is up (an HTTPS region's answer to one connection too many)
 * answers ''.
 */
async function open(d: TestDeployment, head = ''): Promise<RawExchange> {
  const url = new URL(d.url());
  const ca = url.protocol === 'https:' ? await testDeploymentCa() : undefined;
  return new Promise((resolve, reject) => {
    const onConnect = () => {
      if (head) socket.write(head);
      const chunks: Buffer[] = [];
      socket.on('data', (chunk: Buffer) => chunks.push(chunk));
      const answer = new Promise<string>((done) => {
        socket.on('close', () => done(Buffer.concat(chunks).toString('utf8')));
      });
      socket.on('error', () => undefined);
      resolve({ socket, answer });
    };
    const port = Number(url.port);
    const socket: Socket =
      ca === undefined
        ? connect(port, '127.0.0.1', onConnect)
        : connectTls({ port, host: '127.0.0.1', ca }, onConnect);
    socket.once('error', (error: NodeJS.ErrnoException) => {
      if (ca !== undefined && error.code === 'ECONNRESET') resolve({ socket, answer: Promise.resolve('') });
      else reject(error);
    });
  });
}

function statusOf(answer: string): number {
  return Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1]);
}

function errorCodeOf(answer: string): string | undefined {
  const body = answer.slice(answer.indexOf('\r\n\r\n') + 4);
  return (JSON.parse(body) as { error: { code: string } }).error.code;
}

function head(method: string, path: string, headers: Record<string, string | number>): string {
  const lines = Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`);
  return `${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n${lines.join('')}\r\n`;
}

test('connections per client are capped; an idle connection is closed', async (t) => {
  const d = await startTestDeployment(t, ['north-1'], {}, LIMITS);
  // Nothing else has connected to this region yet: the first 8 are taken, the 9th and 10th refused.
  const held = await Promise.all(Array.from({ length: 8 }, () => open(d)));
  const refused = await Promise.all([open(d), open(d)]);
  for (const { answer } of refused) {
    const text = await answer;
    if (TEST_TLS) {
      // Closed before its handshake: an answer would cost the handshake a flood of connections is after.
      assert.equal(text, '', 'closed without an answer');
      continue;
    }
    assert.equal(statusOf(text), 429, text);
    assert.equal(errorCodeOf(text), 'TOO_MANY_CONNECTIONS');
  }
  // The held ones said nothing: each is closed once idle, and the region takes new clients again.
  for (const { answer } of held) assert.equal(await answer, '', 'closed without an answer, as idle');
  const after = await api(d.url(), d.demo.token, 'GET', '/v1/limits');
  assert.equal(after.status, 200);
});

test('a body that stops arriving gets 408 and its connection closed; region calls are refused before the body', async (t) => {
  const d = await startTestDeployment(t, ['north-1'], {}, LIMITS);
  const json = { 'content-type': 'application/json', 'content-length': 100_000 };

  // No region credentials: refused on the headers, without waiting for the 100,000 bytes announced.
  const internal = await open(d, head('POST', '/internal/v1/tokens', json));
  internal.socket.write('{"a"');
  const refused = await internal.answer;
  assert.equal(statusOf(refused), 401, refused);

  // A user's request whose body stops after 4 bytes: 408 once the deadline passes, and the socket is closed.
  const stalled = await open(d, head('POST', '/v2/images', { ...json, 'x-auth-token': d.demo.token }));
  stalled.socket.write('{"na');
  const timedOut = await stalled.answer;
  assert.equal(statusOf(timedOut), 408, timedOut);
  assert.equal(errorCodeOf(timedOut), 'REQUEST_TIMEOUT');

  // An honest client whose body comes in two pieces well within the deadline.
  const body = JSON.stringify({ name: 'in two pieces' });
  const honest = await open(
    d,
    head('POST', '/v2/images', {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(body),
      'x-auth-token': d.demo.token,
      connection: 'close',
    }),
  );
  honest.socket.write(body.slice(0, 5));
  await sleep(200);
  honest.socket.write(body.slice(5));
  assert.equal(statusOf(await honest.answer), 201);
});

test('an upload trickled below the minimum rate is cut off; a steady one longer than the deadline is not', async (t) => {
  const d = await startTestDeployment(t, ['north-1'], {}, LIMITS);
  const create = async (name: string) => {
    const created = await api(d.url(), d.demo.token, 'POST', '/v2/images', {
      name,
      disk_format: 'raw',
      container_format: 'bare',
    });
    assert.equal(created.status, 201);
    return created.body.id as string;
  };
  const uploadHead = (id: string, bytes: number) =>
    head('PUT', `/v2/images/${id}/file`, {
      'content-type': 'application/octet-stream',
      'content-length': bytes,
      'x-auth-token': d.demo.token,
    });

  // 100 bytes every 200 ms: never idle for the idle timeout, but 500 bytes/s, under 64 KiB/s.
  const trickled = await create('trickled');
  const trickle = await open(d, uploadHead(trickled, 1024 * 1024));
  const sending = (async () => {
    for (let i = 0; i < 50 && !trickle.socket.destroyed; i++) {
      trickle.socket.write(Buffer.alloc(100, 1));
      await sleep(200);
    }
  })();
  const cutOff = await trickle.answer;
  await sending;
  assert.equal(statusOf(cutOff), 408, cutOff);
  assert.equal(errorCodeOf(cutOff), 'UPLOAD_TOO_SLOW');
  assert.equal((await api(d.url(), d.demo.token, 'GET', `/v2/images/${trickled}`)).body.status, 'killed');

  // 768 KiB in three pieces 500 ms apart: about 1.2 s, past the request deadline, at a normal rate.
  const steady = await create('steady');
  const data = pseudoRandom(768 * 1024, 7);
  const upload = await open(d, uploadHead(steady, data.length));
  for (let i = 0; i < 3; i++) {
    upload.socket.write(data.subarray(i * 256 * 1024, (i + 1) * 256 * 1024));
    if (i < 2) await sleep(500);
  }
  const lastWrite = Date.now();
  const done = await upload.answer;
  assert.equal(statusOf(done), 204, done);
  // Its connection ends with the answer (plain HTTP) or once idle for the bound (HTTPS keeps it alive), not
  // after the 72 s keep-alive of Fastify's.
  const closedAfter = Date.now() - lastWrite;
  assert.ok(
    closedAfter < LIMITS.idleSocketTimeoutMs + 10_000,
    `the connection closed after ${closedAfter} ms`,
  );
  const image = await api(d.url(), d.demo.token, 'GET', `/v2/images/${steady}`);
  assert.equal(image.body.status, 'active');
  assert.equal(image.body.size, data.length);
});

test('a stopping region lets a request under way finish within its grace, then cuts a stalled upload', async (t) => {
  const d = await startTestDeployment(
    t,
    ['north-1'],
    {},
    {
      ...LIMITS,
      idleSocketTimeoutMs: 60_000,
      uploadIdleTimeoutMs: 60_000,
      shutdownGraceMs: 1000,
    },
  );
  const created = await api(d.url(), d.demo.token, 'POST', '/v2/images', {
    name: 'stalled',
    disk_format: 'raw',
    container_format: 'bare',
  });
  assert.equal(created.status, 201);
  // Half of the body, then nothing: only the 60 s idle timeouts would end it.
  const stalled = await open(
    d,
    head('PUT', `/v2/images/${created.body.id}/file`, {
      'content-type': 'application/octet-stream',
      'content-length': 1024 * 1024,
      'x-auth-token': d.demo.token,
    }),
  );
  stalled.socket.write(Buffer.alloc(512 * 1024, 1));
  // An idle kept-alive connection beside it.
  const idle = await open(d);
  await sleep(200);
  const region = d.regions[0]!;
  const stopping = Date.now();
  await region.close();
  const tookMs = Date.now() - stopping;
  assert.ok(tookMs >= 900, `the upload under way had its grace (stopped after ${tookMs} ms)`);
  assert.ok(tookMs < 5000, `the stop took ${tookMs} ms`);
  assert.equal(await stalled.answer, '', 'the stalled upload was cut, not answered');
  await idle.answer;
});
