/**
 * Traffic between regions metered for an account (source-reads.ts meters it as chunks are sent), per day and
 * region pair, with its price from the region's settings.
 * @module
 */
import type { Principal } from '../identity/tokens.js';
import { listTransferUsage } from '../store/grants.js';
import type { RegionContext } from '../region/context.js';

export async function transferUsage(ctx: RegionContext, principal: Principal) {
  const rows = await listTransferUsage(ctx.db, principal.accountId);
  const price = ctx.replication.transferPricePerGiB;
  return {
    region: ctx.region,
    price_per_gib: price,
    usage: rows.map((r) => ({ ...r, cost: Math.round((r.bytes / 1024 ** 3) * price * 1e6) / 1e6 })),
  };
}
