/**
 * A TCP proxy on 127.0.0.1 in front of one region's port that damages what it forwards, for the network-fault
 * tests (issue 22, point 2): replication between regions must survive what a real network does to a
 * connection (slow it, stall it, cut it, reset it, corrupt it) and end either with the right bytes or with a
 * clear failure, never with a wrong image and never hanging. Faults live here, outside Ferry, so the test
 * exercises the code a deployment runs.
 *
 * Each accepted connection is given one fault, or none, drawn from a seeded PRNG with the configured
 * probabilities. Requests pass unchanged; answers (target → client) carry the fault:
 *
 * - `delay`: each piece of the answer is held `delayMs` before it is forwarded;
 * - `stall`: after K bytes of answer nothing more is forwarded for `stallMs`, then both sides are closed;
 * - `cut`: after K bytes of answer both sides are closed (mid-head, mid-chunk or between answers);
 * - `reset`: after K bytes of answer the client's side is reset (RST) and the target's closed;
 * - `flip`: one byte of a body is flipped, FLIP_MIN_OFFSET (or `flipMinOffset`) or more into a body whose
 *   `Content-Length` the proxy read, so that the content is damaged and not the framing (a chunk-size line or a head would break the
 *   parse instead). The answers are followed head by head, for connections kept alive with several answers;
 *   on a chunked answer the proxy loses the framing and flips nothing more on that connection.
 *
 * K is drawn per connection and counts answer bytes across the answers of a keep-alive connection. A fault
 * is counted when it strikes: a connection that ends before its K bytes, or without a body long enough to
 * flip, had none.
 * @module
 */
import { once } from 'node:events';
import { connect, createServer, type Socket } from 'node:net';

export const FAULT_KINDS = ['delay', 'stall', 'cut', 'reset', 'flip'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/** The probability of each fault per connection (their sum at most 1; the rest of the connections have none). */
export type FaultRates = Partial<Record<FaultKind, number>>;

/** How faults strike: the options `startFaultProxy` and `setFaults` take. */
export interface FaultOptions {
  /** Added before each piece of a `delay` connection's answer is forwarded (default: 5 ms). */
  delayMs?: number;
  /** How long a `stall` connection forwards nothing before it is cut (default: 1 s). */
  stallMs?: number;
  /** K, where `stall`, `cut` and `reset` strike, is drawn from [0, this) answer bytes (default: 2 MiB). */
  strikeWithinBytes?: number;
  /**
   * The share of strikes drawn within the first KiB instead (default: 0.25): in an answer's head or a small
   * JSON answer (a manifest, a job's state), which a K drawn from megabytes would rarely reach.
   */
  earlyStrikes?: number;
  /** At most this many connections, counted from now, are given a fault; the rest none (default: no limit). */
  faultyConnections?: number;
  /** A flip lands at least this far into a body (default FLIP_MIN_OFFSET; 0: any body, a manifest's too). */
  flipMinOffset?: number;
}

export interface FaultProxyOptions extends FaultOptions {
  /** The port on 127.0.0.1 that connections are forwarded to. */
  targetPort: number;
  /** Numbers in [0, 1): the seeded PRNG every choice is drawn from. */
  random: () => number;
  faults?: FaultRates;
}

export interface FaultProxy {
  /** `http://127.0.0.1:<port>`: the endpoint to give instead of the target's. */
  readonly url: string;
  /** Faults that struck, per kind, since the proxy started. */
  readonly counts: Readonly<Record<FaultKind, number>>;
  /** Connections accepted since the proxy started. */
  readonly connections: number;
  /**
   * Faults for the connections accepted from now on, with the proxy's options changed where `options` gives
   * them. Every open connection is closed, so that none kept alive carries its earlier fault into what
   * follows: call it between scenarios, not during one.
   */
  setFaults(faults: FaultRates, options?: FaultOptions): void;
  /** Stops accepting and closes every connection. */
  close(): Promise<void>;
}

/** A flip lands at least this far into a body: never in a small JSON answer or a manifest, only in chunk data. */
export const FLIP_MIN_OFFSET = 64 * 1024;
/** Early strikes (FaultOptions.earlyStrikes) come within this many bytes of answer. */
const EARLY_STRIKE_BYTES = 1024;

export async function startFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  const { random } = options;
  let faults: FaultRates = options.faults ?? {};
  const defaults = {
    delayMs: 5,
    stallMs: 1_000,
    strikeWithinBytes: 2 * 1024 * 1024,
    earlyStrikes: 0.25,
    flipMinOffset: FLIP_MIN_OFFSET,
  };
  let settings = { ...defaults, faultyConnections: Infinity, ...options };
  const counts = Object.fromEntries(FAULT_KINDS.map((kind) => [kind, 0])) as Record<FaultKind, number>;
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  let connections = 0;

  const pick = (): FaultKind | undefined => {
    let r = random();
    if (settings.faultyConnections <= 0) return undefined;
    for (const kind of FAULT_KINDS) {
      r -= faults[kind] ?? 0;
      if (r < 0) {
        settings.faultyConnections--;
        return kind;
      }
    }
    return undefined;
  };
  const later = (ms: number, run: () => void) => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      run();
    }, ms);
    timers.add(timer);
  };

  const server = createServer((client) => {
    connections++;
    const fault = pick();
    const { delayMs, stallMs, strikeWithinBytes } = settings;
    const early = random() < settings.earlyStrikes;
    const strikeAt = Math.floor(
      random() * (early ? Math.min(EARLY_STRIKE_BYTES, strikeWithinBytes) : strikeWithinBytes),
    );
    const flipAt = fault === 'flip' ? followAnswers(random, settings.flipMinOffset) : undefined;
    const upstream = connect({ host: '127.0.0.1', port: options.targetPort });
    const closeBoth = () => {
      client.destroy();
      upstream.destroy();
    };
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', closeBoth);
    }
    client.on('close', () => upstream.destroy());
    client.pipe(upstream);

    let answered = 0;
    /** A stall, cut or reset struck: nothing more is forwarded. */
    let stopped = false;
    /** Forwards a piece of the answer, or strikes within it; false: wait for 'drain' (or stop). */
    const forward = (piece: Buffer): boolean => {
      const flip = flipAt?.(piece);
      if (flip !== undefined) {
        piece = Buffer.from(piece); // a copy: the socket's buffer is not ours to change
        piece[flip]! ^= 1 + Math.floor(random() * 255);
        counts.flip++;
      }
      if ((fault === 'stall' || fault === 'cut' || fault === 'reset') && answered + piece.length > strikeAt) {
        client.write(piece.subarray(0, strikeAt - answered));
        stopped = true;
        counts[fault]++;
        if (fault === 'cut') {
          client.end();
          upstream.destroy();
        } else if (fault === 'reset') {
          client.resetAndDestroy();
          upstream.destroy();
        } else later(stallMs, closeBoth);
        return false;
      }
      answered += piece.length;
      return client.write(piece);
    };
    upstream.on('data', (piece: Buffer) => {
      upstream.pause(); // in order, one piece at a time, and no faster than the client reads
      const send = () => {
        if (client.destroyed) return;
        if (forward(piece)) upstream.resume();
        else if (!stopped) client.once('drain', () => upstream.resume());
      };
      if (fault === 'delay') {
        if (answered === 0) counts.delay++;
        later(delayMs, send);
      } else send();
    });
    upstream.on('end', () => {
      if (!stopped) client.end();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;

  return {
    url: `http://127.0.0.1:${port}`,
    counts,
    get connections() {
      return connections;
    },
    setFaults(next, nextOptions = {}) {
      faults = next;
      settings = { ...defaults, faultyConnections: Infinity, ...options, ...nextOptions };
      for (const socket of sockets) socket.destroy();
    },
    async close() {
      const closed = new Promise((resolve) => server.close(resolve));
      for (const timer of timers) clearTimeout(timer);
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}

/**
 * Follows the answers of one connection through the pieces forwarded (heads, then `Content-Length` bytes of
 * body) and returns, for each piece, the index of the byte to flip if it is in this piece: one byte, drawn
 * `minOffset` or more into the first body longer than that. An answer without `Content-Length` (chunked, or
 * ended by the close) stops the following: nothing is flipped after it.
 */
function followAnswers(random: () => number, minOffset: number): (piece: Buffer) => number | undefined {
  let phase: 'head' | 'body' | 'lost' | 'flipped' = 'head';
  let head = '';
  let left = 0;
  let bodyOffset = 0;
  let target = -1;
  return (piece) => {
    let i = 0;
    while (i < piece.length && (phase === 'head' || phase === 'body')) {
      if (phase === 'head') {
        const text = head + piece.toString('latin1', i);
        const end = text.indexOf('\r\n\r\n');
        if (end < 0) {
          head = text;
          if (head.length > 64 * 1024) phase = 'lost';
          return undefined;
        }
        i += end + 4 - head.length;
        const lines = text.slice(0, end).split('\r\n');
        head = '';
        const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '')?.[1]);
        const field = (name: string) =>
          lines
            .find((line) => line.toLowerCase().startsWith(`${name}:`))
            ?.slice(name.length + 1)
            .trim();
        if (status >= 100 && status < 200) continue; // an interim answer: no body, its answer follows
        const length = Number(field('content-length'));
        if (!status || field('transfer-encoding') !== undefined || !Number.isSafeInteger(length)) {
          phase = 'lost';
          return undefined;
        }
        left = status === 204 || status === 304 ? 0 : length;
        bodyOffset = 0;
        target = left > minOffset ? minOffset + Math.floor(random() * (left - minOffset)) : -1;
        if (left > 0) phase = 'body';
      } else {
        const taken = Math.min(left, piece.length - i);
        if (target >= bodyOffset && target < bodyOffset + taken) {
          phase = 'flipped';
          return i + target - bodyOffset;
        }
        bodyOffset += taken;
        left -= taken;
        i += taken;
        if (left === 0) phase = 'head';
      }
    }
    return undefined;
  };
}
