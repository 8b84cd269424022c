/**
 * Image data between a local file and a region, in constant memory: the upload pipes a file stream into the
 * connection (read 1 MiB at a time, only as fast as the socket drains), and the download writes each piece
 * before reading the next. Both report to a progress display and check what they can: a download's MD5 against the
 * image's `checksum`; a file is only renamed into place once complete.
 * @module
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, rename, rm, stat } from 'node:fs/promises';
import type { FerryClient } from './client.js';
import { CliError } from './errors.js';
import { createRateMeter, type ProgressDisplay } from './progress.js';

/** Bytes read from the file per pull (1 MiB, the server's chunk size). */
export const READ_SIZE = 1024 * 1024;
/** How often a transfer's row is redrawn at most. */
const UPDATE_EVERY_MS = 200;

/** Streams `file` into `PUT /v2/images/{id}/file`; the image must be queued with its formats set. */
export async function uploadFile(
  client: FerryClient,
  imageId: string,
  file: string,
  display: ProgressDisplay,
): Promise<{ bytes: number }> {
  const { size } = await stat(file);
  const source = createReadStream(file, { highWaterMark: READ_SIZE });
  const meter = createRateMeter();
  let done = 0;
  let shownAt = 0;
  display.add('upload', 'upload', { done: 0, total: size });
  source.on('data', (piece) => {
    done += piece.length;
    if (Date.now() - shownAt >= UPDATE_EVERY_MS) {
      shownAt = Date.now();
      display.update('upload', meter(done, size));
    }
  });
  try {
    await client.sendStream('PUT', `/v2/images/${imageId}/file`, source, size, {
      'content-type': 'application/octet-stream',
    });
    display.update('upload', { ...meter(done, size), status: 'uploaded' });
    return { bytes: done };
  } finally {
    display.stop();
    source.destroy();
  }
}

export interface DownloadResult {
  bytes: number;
  md5: string;
}

/**
 * Streams `GET /v2/images/{id}/file` into `target` (written as `<target>.part`, renamed when complete and
 * verified) or, without a target, to stdout. `checksum` is the image's MD5, checked when given.
 */
export async function downloadImage(
  client: FerryClient,
  path: string,
  target: string | undefined,
  display: ProgressDisplay,
  checksum?: string | null,
): Promise<DownloadResult> {
  const response = await client.stream('GET', path);
  const total = Number(response.headers['content-length'] ?? 0);
  const partial = target === undefined ? undefined : `${target}.part`;
  const handle = partial === undefined ? undefined : await open(partial, 'w');
  const hash = createHash('md5');
  const meter = createRateMeter();
  let done = 0;
  let shownAt = 0;
  display.add('download', 'download', { done: 0, total });
  try {
    for await (const piece of response as AsyncIterable<Buffer>) {
      hash.update(piece);
      if (handle) await handle.write(piece);
      else await writeToStdout(piece);
      done += piece.length;
      if (Date.now() - shownAt >= UPDATE_EVERY_MS) {
        shownAt = Date.now();
        display.update('download', meter(done, total));
      }
    }
    const md5 = hash.digest('hex');
    if (checksum && md5 !== checksum) {
      throw new CliError(`the downloaded data's MD5 is ${md5}, the image's checksum is ${checksum}`);
    }
    if (handle) {
      await handle.close();
      await rename(partial!, target!);
    }
    display.update('download', { ...meter(done, total), status: 'verified' });
    return { bytes: done, md5 };
  } catch (error) {
    response.destroy();
    await handle?.close().catch(() => undefined);
    if (partial) await rm(partial, { force: true });
    throw error;
  } finally {
    display.stop();
  }
}

function writeToStdout(piece: Uint8Array): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error) => reject(error);
    process.stdout.once('error', onError);
    if (process.stdout.write(piece)) {
      process.stdout.off('error', onError);
      resolve();
    } else {
      process.stdout.once('drain', () => {
        process.stdout.off('error', onError);
        resolve();
      });
    }
  });
}
