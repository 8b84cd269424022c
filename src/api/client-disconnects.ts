/**
 * A client that closes its connection in the middle of a request (a cut upload, a download left early, a
 * body that stops) is not a fault of Ferry's: it is logged at info level on one line, without a stack,
 * where Fastify would log an error with its stack for each.
 * @module
 */
import { LogController, type FastifyReply, type FastifyRequest } from 'fastify';

const DISCONNECT_CODES = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED', 'ERR_STREAM_PREMATURE_CLOSE']);

/** Whether `error` says the client closed the connection under a request. */
export function isClientDisconnect(error: unknown, request: FastifyRequest): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  const socket = request.raw.socket as typeof request.raw.socket | null;
  const gone = request.raw.destroyed || socket === null || socket.destroyed || !socket.writable;
  return typeof code === 'string' && DISCONNECT_CODES.has(code) && gone;
}

/** The one line a disconnect is logged with. */
export function logClientDisconnect(error: unknown, request: FastifyRequest): void {
  request.log.info(
    { method: request.method, url: request.url, code: (error as { code?: string }).code },
    'the client disconnected before the request was complete',
  );
}

/** Fastify's request logging, with disconnects at info level. */
export class DisconnectAwareLogController extends LogController {
  override requestCompleted(
    error: Error | null | undefined,
    request: FastifyRequest,
    reply: FastifyReply,
    metadata?: Record<string, unknown>,
  ): void {
    if (error && isClientDisconnect(error, request)) return logClientDisconnect(error, request);
    super.requestCompleted(error, request, reply, metadata);
  }

  override streamError(
    error: Error,
    request: FastifyRequest,
    reply: FastifyReply,
    metadata?: Record<string, unknown>,
  ): void {
    if (isClientDisconnect(error, request)) return logClientDisconnect(error, request);
    super.streamError(error, request, reply, metadata);
  }
}
