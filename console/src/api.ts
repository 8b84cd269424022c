/**
 * The console's only way to Ferry: its public HTTP API, in whichever region the view is on (each region's
 * endpoint comes from the catalog, `GET /v1/regions`; regions allow each other's console origins). An error is
 * thrown as ApiError with the API's own code and message, whichever of its shapes it came in (Ferry's, IMS's
 * or BCC's), so that a dialog shows what the API said.
 */
export interface Region {
  name: string;
  display_name: string;
  endpoint: string;
  replicates_to: string[];
}

export interface ReplicationOfImage {
  job_id: string;
  source_region: string | null;
  source_image_id: string | null;
  replicating: boolean;
  status?: string;
  process_percent?: number;
}

export interface Image {
  id: string;
  name: string | null;
  status: string;
  visibility: string;
  protected: boolean;
  checksum: string | null;
  owner: string;
  size: number | null;
  virtual_size: number | null;
  min_disk: number;
  min_ram: number;
  disk_format: string | null;
  container_format: string | null;
  created_at: string;
  updated_at: string;
  tags: string[];
  image_type: string;
  encrypted: boolean;
  frozen: boolean;
  replication: ReplicationOfImage | null;
  [property: string]: unknown;
}

export interface Job {
  job_id: string;
  job_type: string;
  status: 'INIT' | 'RUNNING' | 'SUCCESS' | 'FAIL' | 'CANCELLED';
  begin_time: string;
  end_time: string;
  error_code: string | null;
  fail_reason: string | null;
  entities: {
    image_id: string | null;
    image_name: string | null;
    process_percent: number;
    current_task: string;
  };
  source_region: string | null;
  source_image_id: string | null;
  source_image_name?: string | null;
  dest_region: string | null;
  dest_image_id: string | null;
  bytes_total: number;
  bytes_transferred: number;
  bytes_skipped_present: number;
  bytes_skipped_zero: number;
  bytes_per_second: number;
  eta_seconds: number | null;
}

export interface Member {
  image_id: string;
  member_id: string;
  status: string;
  created_at: string;
  updated_at: string;
}

export interface Project {
  id: string;
  name: string;
  region: string;
}

export interface Agency {
  id: string;
  name: string;
  policies: Array<{ region: string; policy: string }>;
}

export interface Vault {
  id: string;
  name: string;
  region: string;
  protection_type: 'backup' | 'replication';
  size: number;
  used: number;
}

export interface Limits {
  region: string;
  max_image_bytes: number;
  max_replication_image_bytes: number;
  max_running_replications_per_user: number;
}

export interface WhoAmI {
  region: string;
  user: { id: string; name: string; is_admin: boolean };
  account: { id: string; name: string };
  project: { id: string; name: string; region: string };
}

export interface Refusal {
  image_id: string;
  region: string;
  error: { code: string; ferry_code?: string; message: string };
}

export interface StartedJob {
  image_id: string;
  region: string;
  job_id: string;
}

export interface UsageRow {
  day: string;
  kind: 'transfer' | 'image_storage' | 'vault_storage';
  dest_region: string | null;
  bytes: number;
  cost: number;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }
}

const TOKEN_KEY = 'ferry.token';

export const session = {
  token: (): string | null => sessionStorage.getItem(TOKEN_KEY),
  signIn: (token: string) => sessionStorage.setItem(TOKEN_KEY, token),
  signOut: () => sessionStorage.removeItem(TOKEN_KEY),
};

interface RequestOptions {
  method?: string;
  json?: unknown;
  body?: BodyInit;
  headers?: Record<string, string>;
  token?: string | null;
}

/** Calls `path` on the region at `endpoint`; resolves the parsed JSON answer (undefined for an empty one). */
export async function call<T>(endpoint: string, path: string, options: RequestOptions = {}): Promise<T> {
  const token = options.token === undefined ? session.token() : options.token;
  const headers: Record<string, string> = { ...options.headers };
  if (token) headers['x-auth-token'] = token;
  let body = options.body;
  if (options.json !== undefined) {
    headers['content-type'] ??= 'application/json';
    body = JSON.stringify(options.json);
  }
  let response: Response;
  try {
    response = await fetch(endpoint + path, { method: options.method ?? 'GET', headers, body });
  } catch {
    throw new ApiError(0, 'REGION_UNREACHABLE', `The region at ${endpoint} cannot be reached.`);
  }
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = text;
  }
  if (!response.ok) throw errorOf(response.status, parsed);
  return parsed as T;
}

/** The API's error, from Ferry's `{error: {code, message}}` (IMS routes: `code` IMG.xxxx, `ferry_code`). */
function errorOf(status: number, body: unknown): ApiError {
  const error = (
    body as { error?: { code?: string; ferry_code?: string; message?: string; details?: object } }
  )?.error;
  if (error?.message) {
    const code =
      error.ferry_code && error.code !== error.ferry_code ? `${error.code} ${error.ferry_code}` : error.code;
    return new ApiError(
      status,
      code ?? String(status),
      error.message,
      error.details as Record<string, unknown>,
    );
  }
  return new ApiError(status, String(status), typeof body === 'string' && body ? body : `HTTP ${status}`);
}

/** A token is valid in every region: checking it in the serving one is enough to sign in. */
export async function whoAmI(endpoint: string, token?: string): Promise<WhoAmI> {
  return call<WhoAmI>(endpoint, '/v1/auth/whoami', token === undefined ? {} : { token });
}

export async function loadRegions(): Promise<{ region: string; regions: Region[] }> {
  return call(location.origin, '/v1/regions', { token: null });
}

/** Uploads `file` into a queued image with progress (XMLHttpRequest: fetch reports no upload progress). */
export function uploadFile(
  endpoint: string,
  imageId: string,
  file: File,
  onProgress: (sent: number, total: number) => void,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('PUT', `${endpoint}/v2/images/${imageId}/file`);
    xhr.setRequestHeader('content-type', 'application/octet-stream');
    xhr.setRequestHeader('x-auth-token', session.token() ?? '');
    xhr.upload.onprogress = (event) => onProgress(event.loaded, event.total || file.size);
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) return resolve();
      let parsed: unknown = xhr.responseText;
      try {
        parsed = JSON.parse(xhr.responseText);
      } catch {
        // not JSON
      }
      reject(errorOf(xhr.status, parsed));
    };
    xhr.onerror = () => reject(new ApiError(0, 'UPLOAD_FAILED', 'The upload was cut off.'));
    xhr.send(file);
  });
}
