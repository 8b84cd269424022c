/**
 * Node's socket user-buffer read mode (the mechanism behind `net.connect`'s `onread`: each read lands in a
 * buffer the reader names), reached through the socket's own fields where the public API stops:
 * - a server's sockets do not take `onread`, so `api/socket-body.ts` switches the mode on through them;
 * - the buffer of a socket's next read is asked for right after each read, before the reader can pause. A
 *   reader that pauses because its destination is busy would, after `resume`, read into the buffer it named
 *   then: its scratch, the bytes then copied. Measured on a replication destination: 3,078 such reads of
 *   64 KiB for two 2 GiB replications, 5% of the bytes copied once more. `pointNextRead` names the buffer
 *   again before the resume.
 * `userBufferFields` answers undefined where this Node's sockets lack the fields, and for a TLS socket (its
 * handle decrypts: the fields are there, but a server's TLS socket switched to user buffers this way stopped
 * delivering bytes when tried on Node 20); callers keep a path without them. A TLS client still takes the
 * public `onread` option of `tls.connect`.
 * @module
 */
import type { Socket } from 'node:net';

export interface UserBufferFields {
  readonly handle: { useUserBuffer(buffer: Uint8Array): void };
  readonly kBuffer: symbol;
  readonly kBufferCb: symbol;
  readonly kBufferGen: symbol;
}

/** The socket's user-buffer fields, if this Node has them as expected (and the socket is connected). */
export function userBufferFields(socket: Socket): UserBufferFields | undefined {
  if ((socket as Socket & { encrypted?: boolean }).encrypted === true) return undefined;
  const symbols = new Map(Object.getOwnPropertySymbols(socket).map((symbol) => [symbol.description, symbol]));
  const kBuffer = symbols.get('kBuffer');
  const kBufferCb = symbols.get('kBufferCb');
  const kBufferGen = symbols.get('kBufferGen');
  const handle = (socket as unknown as { _handle?: UserBufferFields['handle'] | null })._handle;
  if (kBuffer === undefined || kBufferCb === undefined || kBufferGen === undefined) return undefined;
  if (typeof handle?.useUserBuffer !== 'function') return undefined;
  return { handle, kBuffer, kBufferCb, kBufferGen };
}

/** Makes `buffer` the one the socket's next read lands in (and the one its read callback is given). */
export function pointNextRead(socket: Socket, fields: UserBufferFields, buffer: Uint8Array): void {
  (socket as unknown as Record<symbol, unknown>)[fields.kBuffer] = buffer;
  fields.handle.useUserBuffer(buffer);
}
