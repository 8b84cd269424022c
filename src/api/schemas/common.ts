/**
 * Pieces the route schemas share (TypeBox: JSON Schema with its TypeScript type). A field's `description`
 * completes "<field> must be …": the OpenAPI document shows it, and a request that breaks it is answered
 * with it (api/schema-errors.ts).
 * @module
 */
import { Type } from 'typebox';

export { nullable, oneOf } from '../../lib/schema.js';

/** A path parameter. */
export const IdParams = Type.Object({ id: Type.String({ description: 'the ID in the path' }) });

/** Every error Ferry answers: `{"error": {...}}` (docs/errors.md). */
export const ErrorBody = Type.Object(
  {
    error: Type.Object({
      code: Type.String({ description: "Ferry's error code (docs/errors.md)" }),
      message: Type.String(),
      title: Type.String(),
      status: Type.Integer(),
      ims_code: Type.Optional(Type.String({ description: 'the IMS error code, for IMS-shaped calls' })),
      details: Type.Optional(Type.Object({}, { additionalProperties: true })),
    }),
  },
  { description: 'An error' },
);
