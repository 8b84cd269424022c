/**
 * The CLI's errors and exit codes. Every failure a command can meet ends as one of these classes, so `main.ts`
 * prints it the same way and exits with a code a script can branch on:
 *
 * | exit | meaning                                                                      |
 * | ---- | ---------------------------------------------------------------------------- |
 * | 0    | success                                                                      |
 * | 1    | anything else: region unreachable, local file unreadable, a bug               |
 * | 2    | usage: bad arguments or options, or nothing configured                        |
 * | 3    | the API refused the request (its error `code`, `ims_code` and message shown) |
 * | 4    | a job the command waited for ended FAIL or CANCELLED                          |
 * | 5    | `ferry admin storage scrub` found damaged data (its report is printed first)  |
 * | 130  | interrupted (Ctrl-C)                                                          |
 * @module
 */

export const EXIT_CODES = {
  OK: 0,
  ERROR: 1,
  USAGE: 2,
  API: 3,
  JOB_FAILED: 4,
  DAMAGED: 5,
  INTERRUPTED: 130,
} as const;

export type ExitCode = (typeof EXIT_CODES)[keyof typeof EXIT_CODES];

/** A failure with its exit code; its message is meant for the user, as is. */
export class CliError extends Error {
  /** The `code` of the JSON error printed with `--output json` (API errors carry the API's code). */
  kind = 'CLI_ERROR';
  /** The output format of the command that failed, so the error is printed in the same form. */
  format?: 'table' | 'json';

  constructor(
    message: string,
    readonly exitCode: ExitCode = EXIT_CODES.ERROR,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/** Bad arguments, or a setting the command needs is missing (exit 2). */
export class UsageError extends CliError {
  constructor(message: string) {
    super(message, EXIT_CODES.USAGE);
    this.name = 'UsageError';
    this.kind = 'USAGE';
  }
}

/** The JSON error body Ferry answers with: `{"error": {"code", "message", "ims_code"?, ...}}`. */
export interface ApiErrorBody {
  code: string;
  message: string;
  ims_code?: string;
  status?: number;
  details?: Record<string, unknown>;
}

/**
 * An error entry in Ferry's shape, whichever the API answered: the IMS-shaped routes put IMS's code in `code`
 * and Ferry's in `ferry_code` (docs/errors.md); the CLI shows Ferry's code, with IMS's beside it.
 */
export function ferryShaped<T extends { code: string; ferry_code?: string; ims_code?: string }>(
  error: T,
): Omit<T, 'ferry_code'> {
  const { ferry_code: ferryCode, ...rest } = error;
  if (ferryCode === undefined) return rest;
  return { ...rest, code: ferryCode, ...(error.code !== ferryCode ? { ims_code: error.code } : {}) };
}

/** A list of refusals (`{image_id, region, error}`), each error in Ferry's shape. */
export function ferryShapedRefusals<R extends { error: ApiErrorBody & { ferry_code?: string } }>(
  refused: readonly R[],
): R[] {
  return refused.map((r) => ({ ...r, error: ferryShaped(r.error) }));
}

/** The API refused a request (exit 3). */
export class ApiError extends CliError {
  constructor(
    readonly status: number,
    readonly body: ApiErrorBody,
  ) {
    super(body.message, EXIT_CODES.API);
    this.name = 'ApiError';
    this.kind = body.code;
  }

  get code(): string {
    return this.body.code;
  }
}

/** One or more jobs the command waited for ended FAIL or CANCELLED (exit 4). */
export class JobFailedError extends CliError {
  constructor(message: string) {
    super(message, EXIT_CODES.JOB_FAILED);
    this.name = 'JobFailedError';
    this.kind = 'JOB_FAILED';
  }
}

/** The user pressed Ctrl-C (exit 130). */
export class InterruptedError extends CliError {
  constructor(message = 'interrupted') {
    super(message, EXIT_CODES.INTERRUPTED);
    this.name = 'InterruptedError';
    this.kind = 'INTERRUPTED';
  }
}

/** Any caught value as a CliError: network failures get a readable message, the rest exit 1. */
export function coerceCliError(error: unknown): CliError {
  if (error instanceof CliError) return error;
  if (error instanceof Error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    if (error.message === 'fetch failed' && cause) {
      return new CliError(`cannot reach the region: ${cause.code ?? cause.message ?? 'network error'}`);
    }
    return new CliError(error.message);
  }
  return new CliError(String(error));
}

/**
 * The text for stderr: `REPLICATION_SAME_REGION (IMS IMG.0142): message` for API refusals, followed by one
 * line per refused image/region pair when the API lists them (`details.refused`).
 */
export function describeError(error: CliError): string {
  if (!(error instanceof ApiError)) return error.message;
  const ims = error.body.ims_code ? ` (IMS ${error.body.ims_code})` : '';
  const lines = [`${error.code}${ims}: ${error.message}`];
  const refused = error.body.details?.refused;
  if (Array.isArray(refused)) {
    for (const r of refused as Array<{ image_id: string; region: string; error: ApiErrorBody }>) {
      const rims = r.error.ims_code ? ` (IMS ${r.error.ims_code})` : '';
      lines.push(`  image ${r.image_id} to ${r.region}: ${r.error.code}${rims}: ${r.error.message}`);
    }
  }
  return lines.join('\n');
}
