/**
 * Bounds on what a client holds by being slow or numerous (the slowloris family), as a reverse proxy in
 * front of a public API would set them:
 *
 * - **Request deadline.** Every request but an image upload must have arrived whole, body included, within
 *   `limits.requestTimeoutMs` (30 s) of its first byte; else 408 REQUEST_TIMEOUT and the connection closes.
 *   Uploads are long by nature and have their own rules instead (routes/image-file.ts: an idle timeout and
 *   a minimum rate, `uploadIdleTimeoutMs`, `uploadMinBytesPerSecond`).
 * - **Idle sockets.** A connection with no traffic either way for `limits.idleSocketTimeoutMs` (120 s) is
 *   closed: a client that stops reading a download, or leaves a connection open and silent (between two
 *   requests of a kept-alive connection: the shorter of this and Fastify's 72 s keep-alive).
 * - **Connections per client.** One client address holds at most `limits.maxConnectionsPerClient` (128)
 *   connections; one more is answered 429 TOO_MANY_CONNECTIONS and closed at once. On an HTTPS server the
 *   count is of TCP connections, before their TLS handshake, and one too many is closed without an answer:
 *   an answer would take a handshake first, the CPU a flood of connections is after.
 *
 * Credentials are checked before a body is read (auth.ts and the region-to-region routes check on
 * `onRequest`), so a request without them is refused without waiting for its body.
 * @module
 */
import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import { Server as TlsServer } from 'node:tls';
import type { FastifyInstance } from 'fastify';
import type { RegionLimits } from '../config/limits.js';
import { answerOnSocket } from './socket-answer.js';

/** Route option of the routes that receive image data, which the request deadline leaves alone. */
export const STREAMS_BODY = { streamsBody: true } as const;

export function guardSlowClients(
  app: FastifyInstance,
  limits: Pick<RegionLimits, 'requestTimeoutMs' | 'idleSocketTimeoutMs' | 'maxConnectionsPerClient'>,
): void {
  app.addHook('onRequest', async (request) => {
    const config = request.routeOptions.config as { streamsBody?: boolean } | undefined;
    if (config?.streamsBody || request.raw.complete) return;
    const socket = request.raw.socket;
    const timer = setTimeout(() => {
      if (request.raw.complete || request.raw.destroyed) return;
      request.log.info({ url: request.url }, 'request body not received in time; connection closed');
      answerOnSocket(
        socket,
        'REQUEST_TIMEOUT',
        `The request did not arrive whole within ${limits.requestTimeoutMs / 1000} s.`,
      );
    }, limits.requestTimeoutMs);
    timer.unref();
    const clear = () => clearTimeout(timer);
    request.raw.once('end', clear);
    request.raw.once('close', clear);
  });
  limitConnections(app.server, limits);
}

function limitConnections(
  server: Server,
  limits: Pick<RegionLimits, 'idleSocketTimeoutMs' | 'maxConnectionsPerClient'>,
): void {
  // Node closes a socket idle this long (the server's 'timeout' default), whatever request it is in.
  server.timeout = limits.idleSocketTimeoutMs;
  // Between the requests of a kept-alive connection Node uses keepAliveTimeout instead (Fastify's: 72 s): a
  // shorter idle bound holds there too (a TLS upload's connection stays open after its answer, and was kept
  // 72 s whatever the bound).
  server.keepAliveTimeout = Math.min(server.keepAliveTimeout, limits.idleSocketTimeoutMs);
  const tls = (server as unknown) instanceof TlsServer;
  const open = new Map<string, number>();
  server.on('connection', (socket: Socket) => {
    const client = socket.remoteAddress ?? 'unknown';
    const count = (open.get(client) ?? 0) + 1;
    open.set(client, count);
    socket.once('close', () => {
      const left = (open.get(client) ?? 1) - 1;
      if (left === 0) open.delete(client);
      else open.set(client, left);
    });
    if (count > limits.maxConnectionsPerClient) {
      // 'connection' gives the TCP socket, under TLS: plain bytes on it would be no answer the client reads.
      if (tls) socket.destroy();
      else
        answerOnSocket(
          socket,
          'TOO_MANY_CONNECTIONS',
          `This client holds ${limits.maxConnectionsPerClient} connections to the region already; reuse them.`,
        );
    }
  });
}

/**
 * Calls `tooSlow` once an upload on `socket` has run `uploadGraceMs` and averages less than
 * `uploadMinBytesPerSecond` since it began; answers the function that stops watching.
 */
export function watchUploadRate(
  socket: Socket,
  limits: Pick<RegionLimits, 'uploadMinBytesPerSecond' | 'uploadGraceMs'>,
  tooSlow: (message: string) => void,
): () => void {
  const start = Date.now();
  const before = socket.bytesRead;
  const timer = setInterval(
    () => {
      const seconds = (Date.now() - start) / 1000;
      if (seconds * 1000 < limits.uploadGraceMs) return;
      const rate = (socket.bytesRead - before) / seconds;
      if (rate >= limits.uploadMinBytesPerSecond) return;
      clearInterval(timer);
      tooSlow(
        `The upload averaged ${Math.round(rate)} bytes/s over ${Math.round(seconds)} s, under the region's ` +
          `minimum of ${limits.uploadMinBytesPerSecond} bytes/s`,
      );
    },
    Math.min(1000, Math.max(50, limits.uploadGraceMs / 4)),
  );
  timer.unref();
  return () => clearInterval(timer);
}
