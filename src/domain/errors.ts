/**
 * Ferry's error type and the table of stable error codes. Domain code throws `FerryError` with a code;
 * the HTTP layer turns it into `{"error": {"code", "message", "title", "status"}}` with the code's status.
 * Codes never change meaning once published: clients and scripts match on them.
 * @module
 */

/** Every error code Ferry returns, with its HTTP status and title. */
export const ERROR_CODES = {
  BAD_REQUEST: { status: 400, title: 'Bad Request' },
  INVALID_JSON: { status: 400, title: 'Bad Request' },
  VALIDATION_FAILED: { status: 400, title: 'Bad Request' },
  INVALID_DISK_FORMAT: { status: 400, title: 'Bad Request' },
  DISK_FORMAT_MISMATCH: { status: 400, title: 'Bad Request' },
  UNSAFE_IMAGE: { status: 400, title: 'Bad Request' },
  UPLOAD_INCOMPLETE: { status: 400, title: 'Bad Request' },
  UPLOAD_TIMEOUT: { status: 408, title: 'Request Timeout' },
  UPLOAD_TOO_SLOW: { status: 408, title: 'Request Timeout' },
  REQUEST_TIMEOUT: { status: 408, title: 'Request Timeout' },
  UNAUTHORIZED: { status: 401, title: 'Unauthorized' },
  USER_DISABLED: { status: 401, title: 'Unauthorized' },
  FORBIDDEN: { status: 403, title: 'Forbidden' },
  IMAGE_PROTECTED: { status: 403, title: 'Forbidden' },
  IMAGE_FROZEN: { status: 403, title: 'Forbidden' },
  NOT_FOUND: { status: 404, title: 'Not Found' },
  IMAGE_NOT_FOUND: { status: 404, title: 'Not Found' },
  MEMBER_NOT_FOUND: { status: 404, title: 'Not Found' },
  METHOD_NOT_ALLOWED: { status: 405, title: 'Method Not Allowed' },
  CONFLICT: { status: 409, title: 'Conflict' },
  INVALID_IMAGE_STATUS: { status: 409, title: 'Conflict' },
  INVALID_STATUS_TRANSITION: { status: 400, title: 'Bad Request' },
  IMAGE_DELETED_DURING_UPLOAD: { status: 410, title: 'Gone' },
  DUPLICATE: { status: 409, title: 'Conflict' },
  PAYLOAD_TOO_LARGE: { status: 413, title: 'Request Entity Too Large' },
  LIMIT_EXCEEDED: { status: 413, title: 'Request Entity Too Large' },
  STORAGE_FULL: { status: 413, title: 'Request Entity Too Large' },
  RANGE_NOT_SATISFIABLE: { status: 416, title: 'Requested Range Not Satisfiable' },
  TOO_MANY_UPLOADS: { status: 429, title: 'Too Many Requests' },
  TOO_MANY_CONNECTIONS: { status: 429, title: 'Too Many Requests' },
  HEADERS_TOO_LARGE: { status: 431, title: 'Request Header Fields Too Large' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, title: 'Unsupported Media Type' },
  REPLICATION_SAME_REGION: { status: 400, title: 'Bad Request', ims: 'IMG.0142' },
  REPLICATION_ENCRYPTED: { status: 400, title: 'Bad Request', ims: 'IMG.0143' },
  REPLICATION_PROJECT_NOT_FOUND: { status: 400, title: 'Bad Request', ims: 'IMG.0145' },
  REPLICATION_TOO_LARGE: { status: 400, title: 'Bad Request', ims: 'IMG.0146' },
  REPLICATION_REGION_NOT_ALLOWED: { status: 400, title: 'Bad Request', ims: 'IMG.0147' },
  REPLICATION_LIMIT_REACHED: { status: 400, title: 'Bad Request', ims: 'IMG.0149' },
  REPLICATION_LIMIT_UNKNOWN: { status: 503, title: 'Service Unavailable' },
  REPLICATION_REFUSED: { status: 400, title: 'Bad Request' },
  REPLICATION_AGENCY_INVALID: { status: 400, title: 'Bad Request', ims: 'IMG.0151' },
  REPLICATION_IMAGE_UNAVAILABLE: { status: 400, title: 'Bad Request', ims: 'IMG.0046' },
  REPLICATION_ISO: { status: 400, title: 'Bad Request' },
  REPLICATION_FROZEN: { status: 400, title: 'Bad Request' },
  REPLICATION_NOT_OWNER: { status: 403, title: 'Forbidden' },
  REPLICATION_FULL_SERVER_NEEDS_VAULT: { status: 400, title: 'Bad Request' },
  REPLICATION_VAULT_NOT_FOUND: { status: 400, title: 'Bad Request' },
  REPLICATION_VAULT_TYPE: { status: 400, title: 'Bad Request', ims: 'IMG.0189' },
  VAULT_NOT_FOUND: { status: 404, title: 'Not Found' },
  VAULT_NOT_EMPTY: { status: 409, title: 'Conflict' },
  VAULT_FULL: { status: 400, title: 'Bad Request' },
  VAULT_TYPE: { status: 400, title: 'Bad Request' },
  VAULT_REQUIRED: { status: 400, title: 'Bad Request' },
  BACKUP_NOT_FOUND: { status: 404, title: 'Not Found' },
  WHOLE_SERVER_IMAGE: { status: 400, title: 'Bad Request', ims: 'IMG.0130' },
  WHOLE_SERVER_DISK_INVALID: { status: 400, title: 'Bad Request' },
  IMAGE_IN_USE: { status: 409, title: 'Conflict' },
  IDEMPOTENCY_MISMATCH: { status: 400, title: 'Bad Request' },
  REQUEST_IN_PROGRESS: { status: 409, title: 'Conflict' },
  JOB_NOT_FOUND: { status: 404, title: 'Not Found' },
  JOB_FINISHED: { status: 409, title: 'Conflict' },
  GRANT_INVALID: { status: 403, title: 'Forbidden' },
  GRANT_REVOKED: { status: 403, title: 'Forbidden' },
  REGION_UNREACHABLE: { status: 503, title: 'Service Unavailable' },
  INTERNAL_ERROR: { status: 500, title: 'Internal Server Error' },
  SERVICE_UNAVAILABLE: { status: 503, title: 'Service Unavailable' },
} as const satisfies Record<string, { status: number; title: string; ims?: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;

/** The Huawei IMS error code that means the same, where IMS documents one (e.g. IMG.0142). */
export function imsCodeOf(code: ErrorCode): string | undefined {
  const entry = ERROR_CODES[code];
  return 'ims' in entry ? entry.ims : undefined;
}

/** An error meant for the caller: a stable code, a message that says what to do, optional details. */
export class FerryError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>) {
    super(message);
    this.name = 'FerryError';
    this.code = code;
    this.details = details;
  }

  get status(): number {
    return ERROR_CODES[this.code].status;
  }
}

/** Turns any caught value into an Error, so `catch (e: unknown)` has one shape to deal with. */
export function coerceError(value: unknown): Error {
  if (value instanceof Error) return value;
  return new Error(typeof value === 'string' ? value : JSON.stringify(value));
}

export function isFerryError(value: unknown, code?: ErrorCode): value is FerryError {
  return value instanceof FerryError && (code === undefined || value.code === code);
}
