/**
 * The S3 blob driver: each object is one S3 object named `<prefix><key>` in one bucket, through the AWS SDK
 * for JavaScript v3. Any S3-compatible server that answers the calls below works (the tests run against
 * OpenStack Swift's s3api). Calls: PutObject (multipart above a threshold), GetObject, HeadObject, CopyObject
 * (onto itself, for `touch`), DeleteObject, ListObjectsV2, HeadBucket (once, at open).
 *
 * - Durable when `put` resolves: S3 answers a PUT once it has stored the object, so `deferSync` changes
 *   nothing and `flush` has nothing to do. Readers see an object whole or not at all (S3 PUTs are atomic).
 * - Age: `stat().modifiedAt` is the time of the last put or touch, kept in the object's own metadata
 *   (TOUCHED_METADATA, milliseconds) because S3's Last-Modified counts whole seconds: a re-put a moment later
 *   must show a later age. An object without that metadata (written by something else) has its Last-Modified.
 * - Objects are immutable: a `put` first touches the key (a CopyObject of the object onto itself with new
 *   metadata: a single call that fails with 404 when there is no object) and writes only if that finds nothing.
 * - Integrity on the way: every PUT is signed with its body's SHA-256, which the server checks; for a key of
 *   the layout that is the digest the key names, so a body that does not match its key is refused.
 * - Retries: the SDK's standard retry strategy, `maxAttempts` attempts in all, on throttling (429, SlowDown,
 *   ...; exponential backoff from 1 s with full jitter) and transient errors (500, 502, 503, 504, timeouts,
 *   reset connections; from 50 ms), each delay capped at 20 s; a body cut off while read is asked for again.
 * @module
 */
import { setTimeout as sleep } from 'node:timers/promises';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
  type HeadObjectCommandOutput,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import {
  DEFAULT_S3_MAX_ATTEMPTS,
  DEFAULT_S3_MAX_PARALLELISM,
  DEFAULT_S3_MULTIPART_THRESHOLD_BYTES,
  type S3Settings,
} from '../../config/storage.js';
import { assertValidKey, BlobNotFoundError, InvalidBlobKeyError, type BlobDriver } from '../driver.js';
import { parseKey } from '../layout.js';
import { describeS3Failure, isMissingObject, S3BlobStoreError } from './s3-errors.js';

export { S3BlobStoreError };

export interface S3BlobDriverOptions extends S3Settings {
  /** Size of each part of a multipart upload, at least 5 MiB (default: S3_PART_BYTES, more if needed). */
  readonly multipartPartBytes?: number;
  /** Check at open that the bucket answers (HeadBucket), so a wrong setting fails at start (default: true). */
  readonly checkBucket?: boolean;
  /** Keys asked for per ListObjectsV2 page (default 1000, S3's most); smaller only to test paging. */
  readonly listPageKeys?: number;
}

/** The S3 driver: a BlobDriver whose `close` lets go of the client's connections. */
export interface S3BlobDriver extends BlobDriver {
  close(): Promise<void>;
}

/** The user metadata (`x-amz-meta-…`) holding the time of the last put or touch, in ms since the epoch. */
export const TOUCHED_METADATA = 'ferry-touched';

/** Default part size of multipart uploads: 16 MiB, so a 1 GiB object is 64 parts. */
export const S3_PART_BYTES = 16 * 1024 * 1024;

/** S3's smallest part (all but the last). */
const MIN_PART_BYTES = 5 * 1024 * 1024;

/** Most parts an upload may have: 10,000 on AWS, 1,000 on Swift (max_upload_part_num); the lower one. */
const MAX_PARTS = 1000;

/** Parts of one multipart upload in flight at once. */
const PART_PARALLELISM = 4;

/** Largest single PUT S3 accepts (5 GiB): a larger threshold would make some puts impossible. */
export const MAX_SINGLE_PUT_BYTES = 5 * 1024 * 1024 * 1024;

/**
 * How long a failed touch (no object) lets the `put` of that key that usually follows skip its own touch: the
 * chunk store touches, then puts when the touch found nothing (blobs/chunk-store.ts), and without this every
 * new chunk cost two 404 probes and a PUT instead of one probe and a PUT.
 */
const ABSENT_MEMO_MS = 10_000;
/** At most this many remembered absent keys (the oldest go first). */
const ABSENT_MEMO_ENTRIES = 4096;

/** Whether `name` is an S3 object name this driver uses: a valid key below its prefix. */
function isValidKey(key: string): boolean {
  try {
    assertValidKey(key);
    return true;
  } catch (error) {
    if (error instanceof InvalidBlobKeyError) return false;
    throw error;
  }
}

/** Percent-encodes each segment of a key for CopyObject's `CopySource` (`bucket/key`). */
function encodePath(path: string): string {
  return path.split('/').map(encodeURIComponent).join('/');
}

/**
 * Opens the bucket `options.bucket` as a blob store. Nothing is cached locally, so any number of processes
 * may open the same bucket and prefix.
 * @throws S3BlobStoreError when the bucket does not answer (missing, access denied, unreachable).
 * @example
 * const driver = await createS3BlobDriver({ bucket: 'images', prefix: 'north-1/', endpoint: 'http://127.0.0.1:18580',
 *   region: 'us-east-1', forcePathStyle: true });
 */
/**
 * Where and how an S3 client reaches the bucket's server, from the settings: also for tools that read the bucket
 * beside a region (tests, the bench).
 */
export function s3ClientConfig(settings: Omit<S3Settings, 'bucket'>): S3ClientConfig {
  const credentials =
    settings.accessKeyId !== undefined && settings.secretAccessKey !== undefined
      ? { accessKeyId: settings.accessKeyId, secretAccessKey: settings.secretAccessKey }
      : undefined;
  return {
    // Unset: the SDK's own sources (AWS_ENDPOINT_URL, AWS_REGION, the credential chain).
    ...(settings.endpoint !== undefined ? { endpoint: settings.endpoint } : {}),
    ...(settings.region !== undefined ? { region: settings.region } : {}),
    ...(credentials !== undefined ? { credentials } : {}),
    forcePathStyle: settings.forcePathStyle ?? false,
    // The SDK's default since 2025 is a CRC32 of every body: CPU for nothing, since SigV4 already sends the
    // body's SHA-256 (x-amz-content-sha256), which S3 and Swift check, and servers older than that default
    // refuse the aws-chunked uploads it brings for streams (Swift 2.30: 501).
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  };
}

export async function createS3BlobDriver(options: S3BlobDriverOptions): Promise<S3BlobDriver> {
  const { bucket } = options;
  const prefix = options.prefix ?? '';
  const maxParallelism = options.maxParallelism ?? DEFAULT_S3_MAX_PARALLELISM;
  const maxAttempts = options.maxAttempts ?? DEFAULT_S3_MAX_ATTEMPTS;
  const multipartThreshold = options.multipartThresholdBytes ?? DEFAULT_S3_MULTIPART_THRESHOLD_BYTES;
  const partBytes = Math.max(MIN_PART_BYTES, options.multipartPartBytes ?? S3_PART_BYTES);
  if (multipartThreshold > MAX_SINGLE_PUT_BYTES) {
    throw new RangeError(`multipartThresholdBytes above ${MAX_SINGLE_PUT_BYTES} (S3's largest single PUT)`);
  }
  const agent = { keepAlive: true, maxSockets: maxParallelism };
  const client = new S3Client({
    ...s3ClientConfig(options),
    retryMode: 'standard',
    maxAttempts,
    requestHandler: {
      connectionTimeout: 10_000,
      // A connection silent this long is dropped; the SDK retries the request as a transient error.
      socketTimeout: 120_000,
      httpAgent: agent,
      httpsAgent: agent,
    },
  });
  // SigV4 signs a PUT's body by its SHA-256 (x-amz-content-sha256), which the server checks as it reads the
  // body. A key of the layout names exactly that digest (blobs/layout.ts; the chunk store verified it), so it
  // is given as it is: the SDK hashes nothing again (~0.9 ms of main thread per MiB here), and bytes that do
  // not match their key are still refused (400: XAmzContentSHA256Mismatch on AWS, BadDigest on Swift).
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === 'PutObjectCommand') {
        const name = (args.input as { Key?: string }).Key;
        const digest = name?.startsWith(prefix) ? parseKey(name.slice(prefix.length))?.digest : undefined;
        const request = args.request as { headers?: Record<string, string> };
        if (digest !== undefined && request.headers !== undefined) {
          request.headers['x-amz-content-sha256'] = digest;
        }
      }
      return next(args);
    },
    { step: 'build', name: 'ferryKnownContentSha256' },
  );
  const where = `s3://${bucket}/${prefix}${options.endpoint !== undefined ? ` at ${options.endpoint}` : ''}`;

  /** The error to throw for a failed call (see s3-errors.ts). */
  function failure(operation: string, key: string | undefined, error: unknown): Error {
    return describeS3Failure(operation, key === undefined ? where : `${key} in ${where}`, error);
  }

  /** Keys whose touch found no object just now, with when (see ABSENT_MEMO_MS). */
  const absent = new Map<string, number>();
  function rememberAbsent(key: string): void {
    absent.delete(key);
    absent.set(key, Date.now());
    if (absent.size > ABSENT_MEMO_ENTRIES) absent.delete(absent.keys().next().value!);
  }
  function takeAbsent(key: string): boolean {
    const since = absent.get(key);
    absent.delete(key);
    return since !== undefined && Date.now() - since < ABSENT_MEMO_MS;
  }

  const touchedNow = () => ({ [TOUCHED_METADATA]: String(Date.now()) });

  async function touchObject(key: string): Promise<boolean> {
    const name = prefix + key;
    try {
      await client.send(
        new CopyObjectCommand({
          Bucket: bucket,
          Key: name,
          CopySource: encodePath(`${bucket}/${name}`),
          MetadataDirective: 'REPLACE',
          Metadata: touchedNow(),
        }),
      );
      return true;
    } catch (error) {
      if (isMissingObject(error)) return false;
      throw failure('CopyObject (touch)', key, error);
    }
  }

  async function putMultipart(key: string, data: Buffer): Promise<void> {
    const name = prefix + key;
    // Parts grow for large objects so that no upload needs more than MAX_PARTS; whole MiB.
    const size = Math.ceil(Math.max(partBytes, data.length / MAX_PARTS) / (1 << 20)) * (1 << 20);
    let uploadId: string | undefined;
    try {
      ({ UploadId: uploadId } = await client.send(
        new CreateMultipartUploadCommand({ Bucket: bucket, Key: name, Metadata: touchedNow() }),
      ));
      const count = Math.ceil(data.length / size);
      const etags: string[] = [];
      let next = 0;
      const lane = async () => {
        for (let index = next++; index < count; index = next++) {
          const { ETag } = await client.send(
            new UploadPartCommand({
              Bucket: bucket,
              Key: name,
              UploadId: uploadId,
              PartNumber: index + 1,
              Body: data.subarray(index * size, Math.min(data.length, (index + 1) * size)),
            }),
          );
          etags[index] = ETag!;
        }
      };
      await Promise.all(Array.from({ length: Math.min(PART_PARALLELISM, count) }, lane));
      await client.send(
        new CompleteMultipartUploadCommand({
          Bucket: bucket,
          Key: name,
          UploadId: uploadId,
          MultipartUpload: { Parts: etags.map((ETag, index) => ({ ETag, PartNumber: index + 1 })) },
        }),
      );
    } catch (error) {
      // Parts already stored cost space until the upload ends: end it (best effort; a bucket lifecycle rule
      // for incomplete uploads catches what is left when this fails too).
      if (uploadId !== undefined) {
        await client
          .send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: name, UploadId: uploadId }))
          .catch(() => undefined);
      }
      throw failure('multipart upload', key, error);
    }
  }

  /**
   * The object's bytes, in memory the SDK allocated for them. The SDK retries the request; a body cut off
   * while it is read (a reset connection, fewer bytes than Content-Length) is asked for again here.
   */
  async function getBytes(key: string): Promise<Buffer> {
    for (let attempt = 1; ; attempt++) {
      let response;
      try {
        response = await client.send(new GetObjectCommand({ Bucket: bucket, Key: prefix + key }));
      } catch (error) {
        if (isMissingObject(error)) throw new BlobNotFoundError(key);
        throw failure('GetObject', key, error);
      }
      let problem: unknown;
      try {
        const bytes = await response.Body!.transformToByteArray();
        if (response.ContentLength === undefined || bytes.length === response.ContentLength) {
          return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
        }
        problem = new Error(`${bytes.length} bytes of ${response.ContentLength}`);
      } catch (error) {
        problem = error;
      }
      if (attempt >= maxAttempts) throw failure('GetObject (reading the body)', key, problem);
      await sleep(Math.random() * Math.min(50 * 2 ** attempt, 20_000));
    }
  }

  async function head(key: string): Promise<HeadObjectCommandOutput | undefined> {
    try {
      return await client.send(new HeadObjectCommand({ Bucket: bucket, Key: prefix + key }));
    } catch (error) {
      if (isMissingObject(error)) return undefined;
      throw failure('HeadObject', key, error);
    }
  }

  if (options.checkBucket !== false) {
    try {
      await client.send(new HeadBucketCommand({ Bucket: bucket }));
    } catch (error) {
      client.destroy();
      throw failure('HeadBucket', undefined, error);
    }
  }

  return {
    name: 's3',
    capabilities: { maxParallelism },

    async put(key, data) {
      assertValidKey(key);
      // Present already (or put by another writer meanwhile): a touch refreshes its age, nothing is written.
      if (!takeAbsent(key) && (await touchObject(key))) return;
      if (data.length > multipartThreshold) return putMultipart(key, data);
      try {
        await client.send(
          new PutObjectCommand({
            Bucket: bucket,
            Key: prefix + key,
            Body: data,
            ContentLength: data.length,
            Metadata: touchedNow(),
          }),
        );
      } catch (error) {
        throw failure('PutObject', key, error);
      }
    },

    async allocate(count, size, allocateOptions) {
      // No preference: the SDK sends from any memory.
      if (allocateOptions?.shared !== true) {
        return Array.from({ length: count }, () => Buffer.allocUnsafeSlow(size));
      }
      const memory = Buffer.from(new SharedArrayBuffer(count * size));
      return Array.from({ length: count }, (_, i) => memory.subarray(i * size, (i + 1) * size));
    },

    async touch(key) {
      assertValidKey(key);
      const found = await touchObject(key);
      if (!found) rememberAbsent(key);
      return found;
    },

    // Every put is durable when it resolves: nothing is deferred.
    async flush(keys) {
      keys?.forEach(assertValidKey);
    },

    async get(key) {
      assertValidKey(key);
      return getBytes(key);
    },

    // Lends the bytes the SDK read: memory of their own for each read, so no reader ever waits for a buffer.
    async read(key, use) {
      assertValidKey(key);
      return use(await getBytes(key));
    },

    async has(key) {
      assertValidKey(key);
      return (await head(key)) !== undefined;
    },

    async stat(key) {
      assertValidKey(key);
      const found = await head(key);
      if (found === undefined) return undefined;
      const touched = Number(found.Metadata?.[TOUCHED_METADATA]);
      return {
        size: found.ContentLength ?? 0,
        modifiedAt: Number.isFinite(touched) && touched > 0 ? new Date(touched) : found.LastModified!,
      };
    },

    async delete(key) {
      assertValidKey(key);
      absent.delete(key);
      try {
        await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: prefix + key }));
      } catch (error) {
        // S3 answers 204 for a missing key; some servers 404.
        if (!isMissingObject(error)) throw failure('DeleteObject', key, error);
      }
    },

    async *list(listPrefix) {
      let token: string | undefined;
      do {
        let page;
        try {
          page = await client.send(
            new ListObjectsV2Command({
              Bucket: bucket,
              Prefix: prefix + listPrefix,
              ...(options.listPageKeys !== undefined ? { MaxKeys: options.listPageKeys } : {}),
              ...(token !== undefined ? { ContinuationToken: token } : {}),
            }),
          );
        } catch (error) {
          throw failure('ListObjectsV2', listPrefix, error);
        }
        for (const object of page.Contents ?? []) {
          const key = object.Key?.slice(prefix.length);
          // Objects below the prefix that no driver would have written (by another program) are not keys.
          if (key !== undefined && isValidKey(key)) yield key;
        }
        token = page.IsTruncated === true ? page.NextContinuationToken : undefined;
      } while (token !== undefined);
    },

    async close() {
      client.destroy();
    },
  } satisfies S3BlobDriver;
}
