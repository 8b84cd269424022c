/**
 * An account's usage in this region, per day: the bytes it sent to each other region (metered by
 * source-reads.ts as chunks leave) and its image storage (the day's highest total size of its stored images,
 * sampled by region/storage-usage.ts, today's read live), each priced from the deployment's settings
 * (`replication.transferPricePerGiB`, `images.storagePricePerGiBMonth`: a day costs a thirtieth of a month).
 * Vault backup storage is not reported: Ferry has no vaults yet.
 * @module
 */
import type { Principal } from '../identity/tokens.js';
import { timestamp } from '../store/clock.js';
import { listTransferUsage } from '../store/grants.js';
import { currentImageBytes, listStorageUsage } from '../store/storage-usage.js';
import type { RegionContext } from '../region/context.js';

const GiB = 1024 ** 3;

export interface UsageRow {
  day: string;
  kind: 'transfer' | 'image_storage';
  /** For traffic: the region the bytes went to (they left this one). */
  dest_region: string | null;
  bytes: number;
  cost: number;
}

export interface UsageReport {
  account_id: string;
  region: string;
  prices: { transfer_per_gib: number; image_storage_per_gib_month: number };
  usage: UsageRow[];
}

/** Rounded to a millionth, as prices are quoted. */
function money(value: number): number {
  return Math.round(value * 1e6) / 1e6;
}

export async function usageReport(ctx: RegionContext, principal: Principal): Promise<UsageReport> {
  const transferPrice = ctx.replication.transferPricePerGiB;
  const storagePrice = ctx.images.storagePricePerGiBMonth;
  const today = timestamp(ctx.clock).slice(0, 10);
  const [transfers, stored, now] = await Promise.all([
    listTransferUsage(ctx.db, principal.accountId),
    listStorageUsage(ctx.db, principal.accountId),
    currentImageBytes(ctx.db, principal.accountId),
  ]);
  const storage = new Map(stored.map((row) => [row.day, row.image_bytes]));
  storage.set(today, Math.max(storage.get(today) ?? 0, now));
  const usage: UsageRow[] = [
    ...transfers.map((row) => ({
      day: row.day,
      kind: 'transfer' as const,
      dest_region: row.dest_region,
      bytes: row.bytes,
      cost: money((row.bytes / GiB) * transferPrice),
    })),
    ...[...storage].map(([day, bytes]) => ({
      day,
      kind: 'image_storage' as const,
      dest_region: null,
      bytes,
      cost: money((bytes / GiB) * (storagePrice / 30)),
    })),
  ].sort(
    (a, b) =>
      a.day.localeCompare(b.day) ||
      a.kind.localeCompare(b.kind) ||
      (a.dest_region ?? '').localeCompare(b.dest_region ?? ''),
  );
  return {
    account_id: principal.accountId,
    region: ctx.region,
    prices: { transfer_per_gib: transferPrice, image_storage_per_gib_month: storagePrice },
    usage,
  };
}

/** The report as CSV: a header, then one line per row (RFC 4180; no field needs quoting). */
export function usageCsv(report: UsageReport): string {
  const lines = ['day,region,kind,dest_region,bytes,cost'];
  for (const row of report.usage) {
    lines.push([row.day, report.region, row.kind, row.dest_region ?? '', row.bytes, row.cost].join(','));
  }
  return `${lines.join('\r\n')}\r\n`;
}
