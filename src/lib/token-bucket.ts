/**
 * A bandwidth cap: callers take bytes before sending them and wait when the bucket is empty. The bucket
 * starts empty (a transfer does not open with a burst) and holds at most one second of traffic, so a cap
 * is kept over any window longer than that.
 * @module
 */
export interface TokenBucket {
  take(bytes: number, signal?: AbortSignal): Promise<void>;
}

export function createTokenBucket(bytesPerSecond: number | null, now = () => performance.now()): TokenBucket {
  if (bytesPerSecond === null || bytesPerSecond <= 0) return { take: async () => undefined };
  let tokens = 0;
  let last = now();
  return {
    async take(bytes, signal) {
      for (;;) {
        const t = now();
        tokens = Math.min(bytesPerSecond, tokens + ((t - last) / 1000) * bytesPerSecond);
        last = t;
        // A request larger than the bucket waits for a full bucket, then goes (and drives tokens negative).
        if (tokens >= Math.min(bytes, bytesPerSecond)) {
          tokens -= bytes;
          return;
        }
        if (signal?.aborted) throw signal.reason;
        const waitMs = ((Math.min(bytes, bytesPerSecond) - tokens) / bytesPerSecond) * 1000;
        await new Promise((resolve) => setTimeout(resolve, Math.max(1, waitMs)));
      }
    },
  };
}
