/**
 * Schemas of the administrator storage routes (routes/admin-storage.ts).
 * @module
 */
import { Type, type Static } from 'typebox';
import { nullable } from './common.js';

export const GcBody = Type.Object({
  grace_seconds: Type.Optional(
    Type.Integer({
      minimum: 0,
      description:
        'a non-negative integer (seconds an unreferenced chunk is kept; default: the region setting).',
    }),
  ),
});
export type GcBody = Static<typeof GcBody>;

export const ScrubBody = Type.Object({
  bytes_per_second: Type.Optional(
    nullable(Type.Integer({ minimum: 1, description: 'a positive integer, or null for no cap.' })),
  ),
});
export type ScrubBody = Static<typeof ScrubBody>;
