/**
 * The regions of the catalog as `GET /v1/regions` shows them (routes/discovery.ts): no credential hashes, and for each
 * region the regions it may replicate into. The CLI reads the same shape.
 * @module
 */
import { Type, type Static } from 'typebox';

export const RegionView = Type.Object({
  name: Type.String(),
  display_name: Type.String(),
  endpoint: Type.String(),
  /** The regions this one may replicate into (the catalog's pairs). */
  replicates_to: Type.Array(Type.String()),
});
export type RegionView = Static<typeof RegionView>;

export const RegionList = Type.Object({
  /** The region that answered. */
  region: Type.String(),
  regions: Type.Array(RegionView),
});
export type RegionList = Static<typeof RegionList>;
