/**
 * An account's usage in this region, per day: the bytes it sent to each other region (metered by
 * source-reads.ts as chunks leave), its image storage (the day's highest total size of its stored images) and
 * its vault storage (the same for the backups in its vaults: whole-server images' disks, replicated ones
 * included), both sampled by region/storage-usage.ts with today's read live, each priced from the deployment's
 * settings (`replication.transferPricePerGiB`, `images.storagePricePerGiBMonth`,
 * `images.vaultStoragePricePerGiBMonth`: a day costs a thirtieth of a month).
 * @module
 */
import type { Principal } from '../identity/tokens.js';
import { timestamp } from '../store/clock.js';
import { listTransferUsage } from '../store/grants.js';
import { currentStoredBytes, listStorageUsage, type StoredBytes } from '../store/storage-usage.js';
import type { RegionContext } from '../region/context.js';

const GiB = 1024 ** 3;

export interface UsageRow {
  day: string;
  kind: 'transfer' | 'image_storage' | 'vault_storage';
  /** For traffic: the region the bytes went to (they left this one). */
  dest_region: string | null;
  bytes: number;
  cost: number;
}

export interface UsageReport {
  account_id: string;
  region: string;
  prices: {
    transfer_per_gib: number;
    image_storage_per_gib_month: number;
    vault_storage_per_gib_month: number;
  };
  usage: UsageRow[];
}

/** Rounded to a millionth, as prices are quoted. */
function money(value: number): number {
  return Math.round(value * 1e6) / 1e6;
}

export async function usageReport(ctx: RegionContext, principal: Principal): Promise<UsageReport> {
  const transferPrice = ctx.replication.transferPricePerGiB;
  const storagePrice = ctx.images.storagePricePerGiBMonth;
  const vaultPrice = ctx.images.vaultStoragePricePerGiBMonth;
  const today = timestamp(ctx.clock).slice(0, 10);
  const [transfers, stored, now] = await Promise.all([
    listTransferUsage(ctx.db, principal.accountId),
    listStorageUsage(ctx.db, principal.accountId),
    currentStoredBytes(ctx.db, principal.accountId),
  ]);
  const storage = new Map<string, StoredBytes>(stored.map((row) => [row.day, row]));
  const sampled = storage.get(today);
  storage.set(today, {
    image_bytes: Math.max(sampled?.image_bytes ?? 0, now.image_bytes),
    vault_bytes: Math.max(sampled?.vault_bytes ?? 0, now.vault_bytes),
  });
  const perDay = (bytes: number, pricePerMonth: number) => money((bytes / GiB) * (pricePerMonth / 30));
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
      bytes: bytes.image_bytes,
      cost: perDay(bytes.image_bytes, storagePrice),
    })),
    // A day with no vault storage has no row: most accounts have no vault.
    ...[...storage]
      .filter(([, bytes]) => bytes.vault_bytes > 0)
      .map(([day, bytes]) => ({
        day,
        kind: 'vault_storage' as const,
        dest_region: null,
        bytes: bytes.vault_bytes,
        cost: perDay(bytes.vault_bytes, vaultPrice),
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
    prices: {
      transfer_per_gib: transferPrice,
      image_storage_per_gib_month: storagePrice,
      vault_storage_per_gib_month: vaultPrice,
    },
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
