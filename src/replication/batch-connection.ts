/**
 * One keep-alive HTTP/1.1 connection (over TLS when the source's endpoint is `https:`) from a destination
 * worker lane to the source region's chunk batch route, written for the one exchange it carries: a small JSON POST out, a `Content-Length` body of chunk
 * bytes back. The socket's `onread` reads the body straight into the chunk buffers of a ChunkReceiver:
 * no 64 KiB buffer allocated per read and no copy by an HTTP parser. Measured on the 2-core dev VM, receiving
 * 1 GiB in 16 MiB answers cost 0.9 CPU-seconds through node's http client and 0.2 this way, and the
 * garbage of the http path (2 GiB of short-lived buffers per 2 GiB received) made V8 run a full mark-compact
 * every few tens of milliseconds in the destination process.
 *
 * What it accepts is deliberately narrow: a status line, headers, and a body of exactly `Content-Length`
 * bytes (no chunked encoding, no bytes after the answer); anything else is a BatchStreamError and the
 * connection is dropped. Error answers (a JSON body) become the same RegionCallError as any other
 * region-to-region call. Every other call goes through `region-client.ts` and node's http.
 * @module
 */
import { connect, isIP, type Socket } from 'node:net';
import { connect as connectTls, type ConnectionOptions } from 'node:tls';
import { BatchStreamError, type ChunkReceiver } from './chunk-batch.js';
import { pointNextRead, userBufferFields, type UserBufferFields } from '../lib/socket-user-buffer.js';
import { REGION_CALL_TIMEOUT_MS, RegionCallError, regionCallFailure } from './region-call.js';

/** Longest response head accepted. */
const MAX_HEAD_BYTES = 16 * 1024;

/** Buffer for reads that cannot go straight into a chunk buffer (the head, or while the receiver is blocked). */
const SCRATCH_BYTES = 64 * 1024;

interface Exchange {
  readonly receiver: ChunkReceiver;
  phase: 'head' | 'body' | 'error-body' | 'done';
  head: string;
  status: number;
  remaining: number;
  closeAfter: boolean;
  readonly errorBody: Buffer[];
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

/** How a connection to an `https:` endpoint checks the source's certificate. */
export interface BatchTls {
  /** CA certificates trusted (default: Node's bundled roots). */
  ca?: string[];
}

export class BatchConnection {
  private socket: Socket | undefined;
  private exchange: Exchange | undefined;
  private readonly scratch = Buffer.allocUnsafeSlow(SCRATCH_BYTES);
  /** The socket's user-buffer fields (undefined on a Node without them: reads after a block then go to scratch). */
  private userBuffer: UserBufferFields | undefined;

  /**
   * @param endpoint the source region's endpoint
   * @param headers sent with every request (the calling region's credentials, the job's grant)
   * @param tls for an `https:` endpoint: the CAs its certificate is checked against
   */
  constructor(
    private readonly region: string,
    private readonly endpoint: URL,
    private readonly headers: Readonly<Record<string, string>>,
    private readonly tls: BatchTls = {},
  ) {}

  /**
   * POSTs `body` (JSON) to `path` and feeds the 200 answer's body to `receiver`. Resolves once every byte
   * arrived and every chunk write ended. Rejects with RegionCallError (unreachable, or the source's refusal),
   * BatchStreamError (cut, malformed, too long or too short), or the receiver's failure (e.g. a digest
   * mismatch). The connection is kept for the next call unless the exchange failed mid-way.
   */
  async post(path: string, body: unknown, receiver: ChunkReceiver, signal: AbortSignal): Promise<void> {
    if (signal.aborted) throw signal.reason;
    const socket = await this.connected();
    const payload = Buffer.from(JSON.stringify(body));
    const head = [
      `POST ${path} HTTP/1.1`,
      `host: ${this.endpoint.host}`,
      'content-type: application/json',
      `content-length: ${payload.length}`,
      ...Object.entries(this.headers).map(([name, value]) => `${name}: ${value}`),
      '',
      '',
    ].join('\r\n');
    const onAbort = () => this.fail(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      await new Promise<void>((resolve, reject) => {
        this.exchange = {
          receiver,
          phase: 'head',
          head: '',
          status: 0,
          remaining: 0,
          closeAfter: false,
          errorBody: [],
          resolve,
          reject,
        };
        socket.write(head);
        socket.write(payload);
        socket.resume();
      });
    } finally {
      signal.removeEventListener('abort', onAbort);
      this.exchange = undefined;
      await receiver.settled().catch(() => undefined); // no write may outlive the call
    }
    await receiver.settled();
  }

  close(): void {
    this.socket?.destroy();
    this.socket = undefined;
  }

  private async connected(): Promise<Socket> {
    if (this.socket !== undefined && !this.socket.destroyed) return this.socket;
    const secure = this.endpoint.protocol === 'https:';
    const host = this.endpoint.hostname.replace(/^\[(.*)\]$/, '$1'); // an IPv6 address without brackets
    const port = Number(this.endpoint.port || (secure ? 443 : 80));
    const onread = {
      buffer: () => this.nextBuffer(),
      callback: (count: number, buffer: Uint8Array) => {
        this.onRead(count, buffer as Buffer);
        return true;
      },
    };
    // tls.connect takes the same `onread` (documented for it, its reads being the decrypted bytes; not in
    // @types/node's ConnectionOptions). The certificate must name `host` (an IP address is checked against
    // the certificate's IP SANs; SNI carries only a name).
    const tlsOptions = { host, port, onread, ...(isIP(host) === 0 ? { servername: host } : {}), ...this.tls };
    const socket = secure ? connectTls(tlsOptions as ConnectionOptions) : connect({ host, port, onread });
    this.userBuffer = userBufferFields(socket);
    socket.setNoDelay(true);
    socket.setTimeout(REGION_CALL_TIMEOUT_MS, () => socket.destroy(new Error('timed out')));
    await new Promise<void>((resolve, reject) => {
      socket.once(secure ? 'secureConnect' : 'connect', resolve);
      socket.once('error', (error) =>
        reject(new RegionCallError(`${this.region} unreachable: ${error.message}`, true)),
      );
    });
    // Each names the source region: the last one is the fail_reason of a job out of tries, as "<region>
    // unreachable: …" is when the manifest cannot be fetched.
    socket.on('error', (error) =>
      this.fail(new BatchStreamError(`the chunk stream from ${this.region} broke: ${error.message}`)),
    );
    socket.on('close', () => {
      if (this.socket === socket) this.socket = undefined;
      this.fail(new BatchStreamError(`${this.region} closed the connection before its answer ended`));
    });
    this.socket = socket;
    return socket;
  }

  /** Where the next read lands: the receiver's free chunk region while a body is expected, else scratch. */
  private nextBuffer(): Buffer {
    const exchange = this.exchange;
    if (exchange?.phase === 'body' && exchange.remaining > 0) {
      const region = exchange.receiver.freeRegion();
      if (region !== undefined && region.length > 0)
        return region.length > exchange.remaining ? region.subarray(0, exchange.remaining) : region;
    }
    return this.scratch;
  }

  private onRead(count: number, buffer: Buffer): void {
    const exchange = this.exchange;
    try {
      if (exchange === undefined || exchange.phase === 'done') {
        throw new BatchStreamError('the source sent bytes outside an answer');
      }
      if (buffer === this.scratch) this.process(exchange, buffer.subarray(0, count));
      else {
        exchange.remaining -= count;
        exchange.receiver.filledRegion(count);
      }
      this.afterBytes(exchange);
    } catch (error) {
      this.fail(error);
    }
  }

  private process(exchange: Exchange, bytes: Buffer): void {
    let data = bytes;
    while (data.length > 0) {
      switch (exchange.phase) {
        case 'head': {
          const before = exchange.head.length;
          exchange.head += data.toString('latin1');
          const end = exchange.head.indexOf('\r\n\r\n');
          if (end < 0) {
            if (exchange.head.length > MAX_HEAD_BYTES)
              throw new BatchStreamError('the answer has no end of head');
            return;
          }
          data = data.subarray(end + 4 - before); // latin1: one character per byte
          this.parseHead(exchange, exchange.head.slice(0, end));
          break;
        }
        case 'body': {
          const taken = Math.min(data.length, exchange.remaining);
          exchange.remaining -= taken;
          exchange.receiver.take(data.subarray(0, taken));
          data = data.subarray(taken);
          if (data.length > 0) throw new BatchStreamError('the source sent more bytes than it announced');
          break;
        }
        case 'error-body': {
          const taken = Math.min(data.length, exchange.remaining);
          exchange.remaining -= taken;
          exchange.errorBody.push(Buffer.from(data.subarray(0, taken)));
          data = data.subarray(taken);
          if (data.length > 0) throw new BatchStreamError('the source sent more bytes than it announced');
          break;
        }
        case 'done':
          throw new BatchStreamError('the source sent bytes after its answer');
      }
    }
  }

  private parseHead(exchange: Exchange, head: string): void {
    const [statusLine = '', ...lines] = head.split('\r\n');
    const status = /^HTTP\/1\.([01]) (\d{3})/.exec(statusLine);
    if (!status) throw new BatchStreamError(`not an HTTP answer: ${JSON.stringify(statusLine.slice(0, 80))}`);
    const fields = new Map<string, string>();
    for (const line of lines) {
      const colon = line.indexOf(':');
      if (colon > 0) fields.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
    }
    const length = Number(fields.get('content-length'));
    if (fields.has('transfer-encoding') || !Number.isSafeInteger(length) || length < 0) {
      throw new BatchStreamError('the answer has no Content-Length');
    }
    exchange.status = Number(status[2]);
    exchange.remaining = length;
    exchange.closeAfter = status[1] === '0' || fields.get('connection')?.toLowerCase() === 'close';
    if (exchange.status !== 200) exchange.phase = 'error-body';
    else if (length !== exchange.receiver.total) {
      throw new BatchStreamError(`the source answers ${length} bytes for ${exchange.receiver.total}`);
    } else exchange.phase = 'body';
  }

  /** After each read: finish, fail, or stop reading while the receiver is blocked. */
  private afterBytes(exchange: Exchange): void {
    const { receiver } = exchange;
    if (exchange.phase === 'error-body' && exchange.remaining === 0) {
      this.finish(exchange);
      exchange.reject(regionCallFailure(this.region, exchange.status, Buffer.concat(exchange.errorBody)));
      return;
    }
    if (exchange.phase !== 'body') return;
    if (exchange.remaining === 0) {
      this.finish(exchange);
      exchange.resolve();
      return;
    }
    if (receiver.failure) throw receiver.failure.error; // the rest of the body is of no use
    if (receiver.blocked) {
      const socket = this.socket;
      socket?.pause();
      void receiver.whenUnblocked().then(() => {
        if (this.exchange !== exchange) return;
        if (receiver.failure) this.fail(receiver.failure.error);
        else if (socket !== undefined) {
          // The next read was pointed at scratch when the receiver blocked: point it at the free region.
          if (this.userBuffer !== undefined) pointNextRead(socket, this.userBuffer, this.nextBuffer());
          socket.resume();
        }
      });
    }
  }

  private finish(exchange: Exchange): void {
    exchange.phase = 'done';
    if (exchange.closeAfter) this.close();
  }

  /** Ends the exchange in progress with `error` and drops the connection (its state is unknown). */
  private fail(error: unknown): void {
    const exchange = this.exchange;
    this.exchange = undefined;
    this.close();
    if (exchange !== undefined && exchange.phase !== 'done') exchange.reject(error);
  }
}
