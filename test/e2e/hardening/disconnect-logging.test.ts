// Issue 20, row 11: a client that disconnects in the middle of a request is not a fault of Ferry's. The
// region logs it at info level on one line (no stack), and nothing at error level; the next client is served.
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import { startLocal } from '../../../src/deploy/local.js';
import { api, OCTET } from '../../helpers/deployment.js';
import { pseudoRandom, uploadImage } from '../../helpers/replication.js';
import { makeTempDir } from '../../helpers/tmp.js';

interface LogLine {
  level: number;
  msg: string;
  err?: { stack?: string };
}

const ERROR_LEVEL = 50;
const INFO_LEVEL = 30;

/** Sends `request` on a raw connection, waits a moment for the server to start on it, then cuts it. */
async function sendAndCut(port: number, request: string | Buffer): Promise<void> {
  const socket = connect(port, '127.0.0.1');
  socket.on('error', () => undefined);
  await new Promise((resolve) => socket.once('connect', resolve));
  socket.write(request);
  await sleep(200);
  socket.resetAndDestroy();
}

test('a client that disconnects mid-request is one info line, never an error with a stack', async (t) => {
  const lines: LogLine[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) {
        lines.push(JSON.parse(line) as LogLine);
      }
      done();
    },
  });
  // Hooks run in the order they are added: the region stops before its folder is removed.
  const stop: Array<() => Promise<void>> = [];
  t.after(() => stop.pop()?.());
  const dataDir = await makeTempDir(t);
  const deployment = await startLocal({
    dataDir,
    basePort: 0,
    regions: ['north-1'],
    logger: { level: 'info', stream },
  });
  stop.push(() => deployment.close());
  const url = deployment.regions[0]!.url;
  const port = Number(new URL(url).port);
  const token = deployment.demo.token;
  const id = await uploadImage({ url: () => url }, token, 'north-1', pseudoRandom(8 << 20, 11));
  const queued = await api(url, token, 'POST', '/v2/images', {
    name: 'cut',
    disk_format: 'raw',
    container_format: 'bare',
  });
  const auth = `Host: 127.0.0.1\r\nX-Auth-Token: ${token}\r\n`;

  // A JSON body cut off half-way, an upload cut off half-way, a download left after its first bytes.
  await sendAndCut(
    port,
    `POST /v2/images HTTP/1.1\r\n${auth}Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"na`,
  );
  await sendAndCut(
    port,
    Buffer.concat([
      Buffer.from(
        `PUT /v2/images/${queued.body.id}/file HTTP/1.1\r\n${auth}` +
          `Content-Type: ${OCTET['content-type']}\r\nContent-Length: ${4 << 20}\r\n\r\n`,
      ),
      pseudoRandom(1 << 20, 12),
    ]),
  );
  await sendAndCut(port, `GET /v2/images/${id}/file HTTP/1.1\r\n${auth}\r\n`);
  await sleep(300);

  const errors = lines.filter((line) => line.level >= ERROR_LEVEL);
  assert.deepEqual(
    errors.map((line) => line.msg),
    [],
    'a disconnect is not an error of the region',
  );
  assert.ok(
    lines.every((line) => line.err?.stack === undefined),
    'no log line carries a stack',
  );
  const disconnects = lines.filter((line) => /disconnected/.test(line.msg));
  assert.ok(disconnects.length >= 1, 'the cut JSON body is logged');
  assert.ok(
    disconnects.every((line) => line.level === INFO_LEVEL),
    'disconnects are logged at info level',
  );
  // The region still serves the next client.
  const after = await api(url, token, 'GET', `/v2/images/${id}`);
  assert.equal(after.status, 200);
});
