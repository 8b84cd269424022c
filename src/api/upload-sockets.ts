/**
 * Which image each connection is uploading right now. When a client ends its side of the connection before
 * the bytes its Content-Length declared, Node's HTTP parser reports it at the socket (HPE_INVALID_EOF_STATE),
 * before the route sees the broken stream, and the answer is written there: this lets that answer say what
 * happened, a broken upload and a killed image, rather than "not valid HTTP".
 * @module
 */
import type { Socket } from 'node:net';

const uploading = new WeakMap<Socket, string>();

/** Marks `socket` as carrying the upload of `imageId` until the returned function is called. */
export function markUploading(socket: Socket, imageId: string): () => void {
  uploading.set(socket, imageId);
  return () => {
    if (uploading.get(socket) === imageId) uploading.delete(socket);
  };
}

/** The image `socket` is uploading, if any. */
export function imageUploadingOn(socket: Socket): string | undefined {
  return uploading.get(socket);
}
