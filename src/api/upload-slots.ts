/**
 * How many uploads one region process runs at once, in all and per account. From its first byte to its
 * last, an upload holds a ring of chunk buffers and two hashing threads (blobs/ingest.ts). Without a bound,
 * a client opening uploads that send a few bytes and then nothing (each kept for the idle timeout, or for
 * ever by one byte a minute) could take all of a region's memory: 200 of them took 3.5 GB on the dev VM.
 * @module
 */

export interface UploadSlots {
  /**
   * A slot for an upload of `accountId`: its release function (call it once, when the upload has ended), or
   * which bound refused it.
   */
  take(accountId: string): { release: () => void } | { refused: 'region' | 'account' };
}

export function createUploadSlots(limits: { total: number; perAccount: number }): UploadSlots {
  let inUse = 0;
  const byAccount = new Map<string, number>();
  return {
    take(accountId) {
      const mine = byAccount.get(accountId) ?? 0;
      if (inUse >= limits.total) return { refused: 'region' };
      if (mine >= limits.perAccount) return { refused: 'account' };
      inUse++;
      byAccount.set(accountId, mine + 1);
      let released = false;
      return {
        release() {
          if (released) return;
          released = true;
          inUse--;
          const left = (byAccount.get(accountId) ?? 1) - 1;
          if (left === 0) byAccount.delete(accountId);
          else byAccount.set(accountId, left);
        },
      };
    },
  };
}
