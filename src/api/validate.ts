/**
 * Validation of image properties against the image schema, with Glance's answers: a read-only or reserved
 * property is 403, a value of the wrong type or length is 400, each with a message that names the property.
 * @module
 */
import { Ajv, type ValidateFunction } from 'ajv';
import { FerryError } from '../domain/errors.js';
import { assertNoControlCharacters } from '../domain/image.js';
import { ADDITIONAL_PROPERTY, READ_ONLY_NAMES, WRITABLE_PROPERTIES } from './schemas/image-schema.js';

const ajv = new Ajv({ allErrors: false, strict: false });

const validators = new Map<string, ValidateFunction>(
  Object.entries(WRITABLE_PROPERTIES).map(([name, schema]) => [name, ajv.compile(schema)]),
);
const validateAdditional = ajv.compile(ADDITIONAL_PROPERTY);

/** Glance reserves the os_glance_ prefix for itself; Ferry reserves ferry_ likewise. */
const RESERVED_PREFIXES = ['os_glance_', 'ferry_'];

/**
 * Ferry's own image fields that the view shows inside `replication` (or not at all): a free-form property of
 * the same name would sit at the top of the view as if Ferry had set it, and be copied into copies.
 */
const RESERVED_NAMES: ReadonlySet<string> = new Set([
  'manifest_digest',
  'source_region',
  'source_image_id',
  'replication_job_id',
]);

export function isWritableCore(name: string): name is keyof typeof WRITABLE_PROPERTIES {
  return validators.has(name);
}

/** Checks that a caller may set or remove a property called `name`; throws FORBIDDEN or VALIDATION_FAILED. */
export function assertPropertyName(name: string): void {
  assertNoControlCharacters('A property name', name);
  if (READ_ONLY_NAMES.has(name)) {
    throw new FerryError('FORBIDDEN', `Attribute '${name}' is read-only.`);
  }
  if (RESERVED_NAMES.has(name) || RESERVED_PREFIXES.some((prefix) => name.startsWith(prefix))) {
    throw new FerryError('FORBIDDEN', `Attribute '${name}' is reserved.`);
  }
  if (name.length === 0 || name.length > 255) {
    throw new FerryError('VALIDATION_FAILED', 'Property names must be 1 to 255 characters long.');
  }
}

/** Checks that `name` may be set to `value`; throws FORBIDDEN or VALIDATION_FAILED otherwise. */
export function assertPropertyValue(name: string, value: unknown): void {
  assertPropertyName(name);
  const validate = validators.get(name) ?? validateAdditional;
  if (!validate(value)) {
    const problem = validate.errors?.[0]?.message ?? 'is invalid';
    const kind = validators.has(name) ? '' : ' (extra properties must be strings of at most 255 characters)';
    throw new FerryError('VALIDATION_FAILED', `Invalid value for '${name}': ${problem}${kind}.`, {
      property: name,
    });
  }
  for (const text of [value].flat()) {
    if (typeof text === 'string') assertNoControlCharacters(`'${name}'`, text);
  }
}
