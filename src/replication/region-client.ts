/**
 * Calls from one region to another over the internal API, authenticated with the calling region's own
 * credential (config/region-credential.ts). Control calls are small JSON requests over a keep-alive agent,
 * HTTPS where the peer's endpoint is `https:` (its certificate checked against the trusted CAs), plain HTTP
 * where it is `http:` (loopback, or a catalog that allows it); chunk batches travel over a BatchConnection of
 * their own, the same way. The catalog and the credential are asked for at every call, so a region that
 * re-reads them (region/region-trust.ts) uses the new ones from its next call on. Errors are classified: a
 * refusal (4xx) is permanent, anything else (connection refused, a certificate refused, timeout, 5xx) is
 * transient and may be retried.
 * @module
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { findRegion, type RegionCatalog } from '../config/catalog.js';
import { BatchConnection, type BatchTls } from './batch-connection.js';
import {
  REGION_CALL_TIMEOUT_MS,
  REGION_HEADER,
  REGION_SECRET_HEADER,
  RegionCallError,
  regionCallFailure,
} from './region-call.js';

export interface RegionClient {
  /** JSON call to `region`; resolves the parsed body of a 2xx answer. */
  call<T>(
    region: string,
    method: string,
    path: string,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<T>;
  /**
   * A connection to `region` for chunk batches (see batch-connection.ts), carrying this region's
   * credentials and `headers`. The caller closes it.
   */
  batchConnection(region: string, headers: Record<string, string>): BatchConnection;
  /** GET of raw bytes (a manifest) from `region`. */
  getBytes(
    region: string,
    path: string,
    headers: Record<string, string>,
    signal?: AbortSignal,
  ): Promise<Buffer>;
  close(): void;
}

export interface RegionClientOptions {
  /** This region's name. */
  self: string;
  /** The catalog as the region has it now. */
  catalog: () => RegionCatalog;
  /** This region's credential as it has it now; undefined: the region makes no region-to-region call. */
  credential: () => string | undefined;
  /** CA certificates trusted for the other regions' certificates (default: Node's bundled roots). */
  peerCa?: string[];
}

/** Connections kept per peer for JSON calls. */
const MAX_SOCKETS = 16;

export function createRegionClient(options: RegionClientOptions): RegionClient {
  const { self } = options;
  const tls: BatchTls = options.peerCa === undefined ? {} : { ca: options.peerCa };
  const httpAgent = new HttpAgent({ keepAlive: true, maxSockets: MAX_SOCKETS });
  const httpsAgent = new HttpsAgent({ keepAlive: true, maxSockets: MAX_SOCKETS, ...tls });

  function target(region: string): { endpoint: URL; headers: Record<string, string> } {
    const entry = findRegion(options.catalog(), region);
    const credential = options.credential();
    if (!entry || credential === undefined) {
      throw new RegionCallError(`region ${region} cannot be reached from ${self}: check the catalog`, false);
    }
    return {
      endpoint: new URL(entry.endpoint),
      headers: { [REGION_HEADER]: self, [REGION_SECRET_HEADER]: credential },
    };
  }

  /** One request to another region. */
  interface Call {
    region: string;
    method: string;
    path: string;
    headers: Record<string, string>;
    body?: Buffer;
    signal?: AbortSignal;
  }

  /** Starts a request; resolves with the response once its status line and headers are in. */
  function open({ region, method, path, headers, body, signal }: Call): Promise<IncomingMessage> {
    const { endpoint, headers: auth } = target(region);
    const secure = endpoint.protocol === 'https:';
    return new Promise((resolve, reject) => {
      const req = (secure ? httpsRequest : httpRequest)(
        new URL(path, endpoint),
        {
          method,
          agent: secure ? httpsAgent : httpAgent,
          headers: { ...auth, ...headers },
          timeout: REGION_CALL_TIMEOUT_MS,
          signal,
        },
        resolve,
      );
      req.on('timeout', () => req.destroy(new Error('timed out')));
      req.on('error', (error) =>
        reject(
          signal?.aborted
            ? new RegionCallError('aborted', false)
            : new RegionCallError(`${region} unreachable: ${error.message}`, true),
        ),
      );
      req.end(body);
    });
  }

  /** Sends a request and reads its whole answer; a connection that breaks on the way is a transient error. */
  async function send(call: Call): Promise<{ status: number; data: Buffer }> {
    const res = await open(call);
    const parts: Buffer[] = [];
    try {
      for await (const part of res) parts.push(part as Buffer);
    } catch (error) {
      throw new RegionCallError(`${call.region}: ${(error as Error).message}`, true);
    }
    return { status: res.statusCode ?? 0, data: Buffer.concat(parts) };
  }

  function jsonBody(body: unknown): Buffer | undefined {
    return body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  }

  return {
    async call<T>(
      region: string,
      method: string,
      path: string,
      body?: unknown,
      headers: Record<string, string> = {},
    ) {
      const payload = jsonBody(body);
      const { status, data } = await send({
        region,
        method,
        path,
        headers: payload ? { 'content-type': 'application/json', ...headers } : headers,
        body: payload,
      });
      if (status < 200 || status >= 300) throw regionCallFailure(region, status, data);
      return (data.length > 0 ? JSON.parse(data.toString('utf8')) : undefined) as T;
    },
    batchConnection(region, headers) {
      const { endpoint, headers: auth } = target(region);
      return new BatchConnection(region, endpoint, { ...auth, ...headers }, tls);
    },
    async getBytes(region, path, headers, signal) {
      const { status, data } = await send({ region, method: 'GET', path, headers, signal });
      if (status !== 200) throw regionCallFailure(region, status, data);
      return data;
    },
    close() {
      httpAgent.destroy();
      httpsAgent.destroy();
    },
  };
}
