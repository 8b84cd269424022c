/**
 * TypeBox helpers the request schemas share (the API's, api/schemas/, and the region-to-region calls',
 * replication/peer-api.ts).
 * @module
 */
import { Type, type Static, type TSchema } from 'typebox';

/** `schema` (one with a `type`: a string, a number, an integer), or null. */
export function nullable<T extends TSchema>(schema: T) {
  return Type.Unsafe<Static<T> | null>({
    ...schema,
    type: [(schema as unknown as { type: string }).type, 'null'],
  });
}

/** One of `values` (an enum whose error message lists them). */
export function oneOf<const T extends string>(values: readonly T[]) {
  return Type.Unsafe<T>({ type: 'string', enum: [...values], description: `one of ${values.join(', ')}.` });
}
