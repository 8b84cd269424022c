/**
 * Reads a request body of known length (`Content-Length`) from the socket straight into the caller's
 * buffers, for image uploads: the bytes land in the ingest ring where they are hashed and written, with no
 * Buffer allocated per read and no copy by an HTTP parser.
 *
 * Why: Node's HTTP server hands every piece of a body (up to 64 KiB, one per socket read) to JavaScript as
 * a freshly allocated copy. A 2 GiB upload made ~32,000 of them: malloc churn that a region process kept as
 * RSS (its glibc heap grew to 38-97 MiB and stayed), and ArrayBuffer garbage that made V8 collect the old
 * generation back to back unless its heap was started large (`--initial-old-space-size=128`, then).
 *
 * How: once the route has accepted the request, the socket is taken from Node's HTTP parser, and reads go
 * into the caller's buffer through the socket's user-buffer mode, the mechanism behind `net.connect`'s
 * public `onread` option (which a server's sockets do not take, so it is switched on here through the
 * socket's own fields; `takeBody` answers undefined, and the caller reads the body as a stream, when this
 * Node does not have them). The HTTP parser never sees the body, so the connection cannot carry another
 * request: the caller answers with `Connection: close`.
 *
 * Between reads, and once the reader is done, the socket reads only into a small buffer of its own: bytes
 * never land in memory the caller has taken back (an upload ring is reused by the next upload).
 * @module
 */
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { pointNextRead, userBufferFields, type UserBufferFields } from '../lib/socket-user-buffer.js';

/** Where reads land while no `readInto` waits (before the first, after the end or a cancel), kept for the
 * next one. Small: only bytes that arrive before the reader asks land here. */
const SCRATCH_BYTES = 16 * 1024;

/** A request body read straight into buffers the caller gives. */
export interface SocketBody {
  /**
   * Fills `target` from the body: resolves with the bytes read, `target.length` unless the body ends first;
   * 0 once the body has been read whole. Rejects if the connection ends, breaks or is cancelled first. One
   * read at a time.
   */
  readInto(target: Buffer): Promise<number>;
  /** Stops reading (idempotent); a read in progress rejects with `reason`. */
  cancel(reason: Error): void;
}

/** The socket's user-buffer fields and its HTTP parser, if this Node has them as expected. */
function takeableFields(
  socket: Socket,
): (UserBufferFields & { parser: { unconsume(): void; _consumed?: boolean } }) | undefined {
  const fields = userBufferFields(socket);
  const slots = socket as unknown as Record<string | symbol, unknown>;
  const parser = slots.parser as { unconsume?: unknown; _consumed?: boolean } | null | undefined;
  // Not already in user-buffer mode, and with the parser that can give back what it read.
  if (fields === undefined || slots[fields.kBuffer] !== null) return undefined;
  if (parser === null || parser === undefined || typeof parser.unconsume !== 'function') return undefined;
  return { ...fields, parser: parser as { unconsume(): void; _consumed?: boolean } };
}

/**
 * Takes the body of `request` (a `Content-Length` body, not chunked) from its socket, or answers undefined
 * (no such body, or a Node whose sockets lack the user-buffer fields): read `request` as a stream then.
 * Bytes the HTTP parser already read are handed out first. Call it once every check that may refuse the
 * request has passed, and answer the request with `Connection: close`.
 */
export function takeBody(request: IncomingMessage): SocketBody | undefined {
  const length = Number(request.headers['content-length']);
  if (request.headers['transfer-encoding'] !== undefined || !Number.isSafeInteger(length) || length < 0) {
    return undefined;
  }
  const socket = request.socket;
  const fields = takeableFields(socket);
  if (fields === undefined || request.complete || socket.destroyed) return undefined;

  // The bytes the parser read with the head, or after it while the route ran: at most one socket read or
  // the request's high-water mark, since the parser stops reading once the request's buffer is full.
  const early: Buffer[] = [];
  let earlyBytes = 0;
  for (let piece = request.read() as Buffer | null; piece !== null; piece = request.read() as Buffer | null) {
    early.push(piece);
    earlyBytes += piece.length;
  }
  if (earlyBytes > length) return undefined; // cannot be: the parser stops at Content-Length

  const scratch = Buffer.allocUnsafe(SCRATCH_BYTES);
  let remaining = length - earlyBytes;
  let target: Buffer | undefined;
  let filled = 0;
  let done: Error | 'end' | undefined = remaining === 0 ? 'end' : undefined;
  let pending: { resolve(count: number): void; reject(error: Error): void } | undefined;

  /** Ends the read in progress, if any, with its byte count. */
  function settle(): void {
    const read = pending;
    const count = filled;
    pending = undefined;
    target = undefined;
    filled = 0;
    read?.resolve(count);
  }

  function stop(reason: Error | 'end'): void {
    if (done !== undefined) return;
    done = reason;
    socket.pause();
    // Points the socket's next read at scratch, whatever its last buffer was: the caller's buffer may be
    // given to someone else as soon as this read ends.
    pointNextRead(socket, fields!, scratch);
    if (reason === 'end') settle();
    else {
      const read = pending;
      pending = undefined;
      target = undefined;
      read?.reject(reason);
    }
  }

  /** The socket's buffer for its next read: the unfilled part of the target, else scratch. */
  function nextBuffer(): Buffer {
    if (target === undefined || done !== undefined) return scratch;
    const room = Math.min(target.length - filled, remaining);
    return room > 0 ? target.subarray(filled, filled + room) : scratch;
  }

  /** A read landed in `buffer`; false stops the socket reading. */
  function onRead(count: number, buffer: Uint8Array): boolean {
    if (done !== undefined) return false; // into scratch, past the body or after a failure: dropped
    const useful = Math.min(count, remaining);
    const landed = target === undefined ? 0 : Math.min(useful, target.length - filled);
    if (buffer === scratch) {
      // A read before any target was asked for (the HTTP server may restart reading on its own), or the
      // first one after readInto: copied; what the target cannot take waits for the next readInto.
      if (landed > 0) scratch.copy(target as Buffer, filled, 0, landed);
      if (useful > landed) early.push(Buffer.from(scratch.subarray(landed, useful)));
    }
    filled += landed;
    remaining -= useful;
    // Bytes past the body (only possible into scratch: a target read is cut at the body's end) are a
    // pipelined request, which this connection does not serve: dropped.
    if (remaining === 0) {
      stop('end');
      return false;
    }
    if (target === undefined) return false;
    if (filled === target.length) {
      settle();
      return false; // reading resumes at the next readInto, into its target
    }
    return true;
  }

  const onEnd = (): void => stop(new Error('the client closed the connection before the body ended'));
  const onError = (error: Error): void => stop(error);
  socket.once('end', onEnd);
  socket.once('close', onEnd);
  socket.once('error', onError);

  // The HTTP parser lets go of the socket; its reads now come to onRead, into nextBuffer().
  socket.pause();
  if (fields.parser._consumed === true) {
    fields.parser.unconsume();
    fields.parser._consumed = false;
  }
  const slots = socket as unknown as Record<symbol, unknown>;
  slots[fields.kBufferGen] = nextBuffer;
  slots[fields.kBufferCb] = onRead;
  pointNextRead(socket, fields, scratch);

  return {
    readInto(into) {
      if (pending !== undefined) return Promise.reject(new Error('one readInto at a time'));
      const first = early[0];
      if (first !== undefined) {
        const count = first.copy(into);
        if (count === first.length) early.shift();
        else early[0] = first.subarray(count);
        return Promise.resolve(count);
      }
      if (done === 'end') return Promise.resolve(0);
      if (done !== undefined) return Promise.reject(done);
      if (into.length === 0) return Promise.resolve(0);
      return new Promise<number>((resolve, reject) => {
        pending = { resolve, reject };
        target = into;
        filled = 0;
        pointNextRead(socket, fields, nextBuffer()); // not the scratch named after the last read
        socket.resume();
      });
    },

    cancel(reason) {
      socket.off('end', onEnd);
      socket.off('close', onEnd);
      socket.off('error', onError);
      stop(reason);
    },
  };
}
