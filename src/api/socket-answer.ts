/**
 * A JSON error written straight to a socket and the connection closed: for what is refused where no Fastify
 * reply exists or can be trusted (a request Node's parser rejected, a connection over its client's cap, a
 * body that never arrived), in the same `{"error": ...}` shape every route answers with.
 * @module
 */
import type { Socket } from 'node:net';
import { ERROR_CODES, type ErrorCode } from '../domain/errors.js';

export function answerOnSocket(socket: Socket, code: ErrorCode, message: string): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const { status, title } = ERROR_CODES[code];
  const body = JSON.stringify({ error: { code, message, title, status } });
  socket.end(
    `HTTP/1.1 ${status} ${title}\r\nContent-Type: application/json; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
  // Whatever the client still sends is not read: the socket goes once the answer is out, or soon after.
  setTimeout(() => socket.destroy(), 1000).unref();
}
