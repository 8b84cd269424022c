/**
 * Ferry's messages for requests that fail a route's schema (Fastify validates with Ajv; the error hook answers
 * them as VALIDATION_FAILED): one sentence that names the field and what it must be, as the hand-written
 * checks these schemas replaced said it. A field's `description` in its schema is written to complete
 * "<field> must be …", so the OpenAPI document and the error say the same thing.
 * @module
 */
import type { FastifySchemaValidationError } from 'fastify';

interface VerboseError extends FastifySchemaValidationError {
  parentSchema?: { description?: string; properties?: Record<string, unknown> };
}

/** `/regions/0` → `regions[0]`; the request part's name for the whole of it. */
function fieldName(instancePath: string, part: string): string {
  if (instancePath === '') return part;
  return instancePath
    .slice(1)
    .split('/')
    .map((segment, i) => (/^\d+$/.test(segment) ? `[${segment}]` : i === 0 ? segment : `.${segment}`))
    .join('');
}

const PARTS: Record<string, string> = {
  body: 'The request body',
  querystring: 'The query',
  params: 'The path',
};

export function schemaErrorMessage(errors: readonly FastifySchemaValidationError[], dataVar: string): string {
  const error = errors[0] as VerboseError | undefined;
  if (error === undefined) return `${PARTS[dataVar] ?? dataVar} is not valid.`;
  const params = error.params as Record<string, unknown>;
  const prefix = error.instancePath === '' ? '' : `${fieldName(error.instancePath, dataVar)}.`;
  switch (error.keyword) {
    case 'additionalProperties': {
      const known = Object.keys(error.parentSchema?.properties ?? {});
      const name = `${prefix}${String(params.additionalProperty)}`;
      return dataVar === 'querystring'
        ? `Unknown query parameter ${name}; this call takes ${known.join(', ') || 'none'}.`
        : `Unknown field ${name}; this call takes ${known.join(', ')}.`;
    }
    case 'required':
      return `${prefix}${String(params.missingProperty)} is required.`;
  }
  if (error.instancePath === '' && error.keyword === 'type') {
    return dataVar === 'querystring'
      ? 'The query is not valid.'
      : `${PARTS[dataVar] ?? dataVar} must be a JSON object.`;
  }
  const field = fieldName(error.instancePath, dataVar);
  if (dataVar === 'querystring' && error.keyword === 'type' && params.type === 'string') {
    return `${field} may be given once.`; // a repeated parameter arrives as a list
  }
  const rule = error.parentSchema?.description;
  return rule !== undefined ? `${field} must be ${rule}` : `${field} ${error.message ?? 'is not valid'}.`;
}

/** Fastify's `schemaErrorFormatter`: the error the error hook answers as VALIDATION_FAILED. */
export function formatSchemaError(errors: FastifySchemaValidationError[], dataVar: string): Error {
  return new Error(schemaErrorMessage(errors, dataVar));
}
