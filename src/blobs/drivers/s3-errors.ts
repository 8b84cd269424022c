/**
 * The S3 driver's errors: what a failed SDK call becomes at the driver's boundary. A missing object is the
 * port's BlobNotFoundError (or `undefined`, `false`); every other failure an S3BlobStoreError whose message
 * names the call, the object, what the service said and, for the usual causes, what to check.
 * @module
 */
import { STATUS_CODES } from 'node:http';
import { BlobNotFoundError } from '../driver.js';

/** An S3 call that failed for a reason other than a missing object, with what the service said. */
export class S3BlobStoreError extends Error {
  constructor(
    message: string,
    readonly operation: string,
    readonly status: number | undefined,
    readonly code: string | undefined,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'S3BlobStoreError';
  }
}

interface SdkError {
  name?: string;
  message?: string;
  Code?: string;
  $metadata?: { httpStatusCode?: number; attempts?: number };
}

function sdkError(error: unknown): SdkError {
  return typeof error === 'object' && error !== null ? (error as SdkError) : {};
}

function statusOf(error: unknown): number | undefined {
  return sdkError(error).$metadata?.httpStatusCode;
}

/** Whether the SDK error says there is no such object (a 404 of GET, HEAD or COPY). */
export function isMissingObject(error: unknown): boolean {
  const { name, Code } = sdkError(error);
  // HEAD answers carry no body, so the SDK names a 404 "NotFound"; a GET or COPY names it NoSuchKey.
  return name === 'NoSuchKey' || Code === 'NoSuchKey' || (name === 'NotFound' && statusOf(error) === 404);
}

/**
 * The error to throw for `operation` on `target` (e.g. `v1/chunks/ab/… in s3://bucket/prefix/ at http://…`).
 * BlobNotFoundError and S3BlobStoreError pass through unchanged.
 */
export function describeS3Failure(operation: string, target: string, error: unknown): Error {
  if (error instanceof BlobNotFoundError || error instanceof S3BlobStoreError) return error;
  const status = statusOf(error);
  const { name, message, Code } = sdkError(error);
  // HEAD answers have no body, hence no error code: the status's name stands for it. A network error has
  // neither, only its message.
  const named =
    Code ?? (name === 'Unknown' || name === 'UnknownError' || name === 'Error' ? undefined : name);
  const code = named ?? (status !== undefined ? STATUS_CODES[status] : undefined);
  const said = [
    code,
    status !== undefined ? `(HTTP ${status})` : undefined,
    message && message !== 'UnknownError' ? (code === undefined ? message : `(${message})`) : undefined,
  ].filter((part) => part !== undefined);
  const hint =
    status === 403
      ? '; access denied: check the credentials (storage.s3 or AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY) and their rights on the bucket'
      : code === 'NoSuchBucket' || (operation === 'HeadBucket' && status === 404)
        ? '; the bucket does not exist'
        : message === 'Region is missing'
          ? ': set storage.s3.region or AWS_REGION'
          : '';
  const attempts = sdkError(error).$metadata?.attempts;
  const text = `${operation} ${target} failed: ${said.join(' ')}${
    attempts !== undefined && attempts > 1 ? ` after ${attempts} attempts` : ''
  }${hint}`;
  return new S3BlobStoreError(text, operation, status, code, { cause: error });
}
