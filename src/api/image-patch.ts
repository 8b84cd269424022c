/**
 * Applies a Glance JSON patch (`application/openstack-images-v2.1-json-patch`, or the v2.0 type's older
 * body) to an image, producing the changes to store. Rules as in Glance: add sets (or replaces), replace and remove need the property to exist,
 * core properties cannot be removed, read-only ones cannot be touched, formats change only while queued.
 * @module
 */
import { FerryError } from '../domain/errors.js';
import { assertImageFieldsAgree, defaultImageType } from '../domain/image.js';
import type { Principal } from '../identity/tokens.js';
import type { ImageChanges, ImageRecord, ImageRow } from '../store/images.js';
import { assertPropertyName, assertPropertyValue, isWritableCore } from './validate.js';

type Op = { op: 'add' | 'replace' | 'remove'; path: string; value?: unknown };

const OPS = ['add', 'replace', 'remove'] as const;

/**
 * The operations of a patch body. `application/openstack-images-v2.1-json-patch` is RFC 6902 (`{"op":
 * "replace", "path": "/name", "value": …}`); the older v2.0 media type names the operation by its key
 * (`{"replace": "/name", "value": …}`), as Glance still accepts.
 */
function parseOps(body: unknown, mediaType: string): Op[] {
  if (!Array.isArray(body)) {
    throw new FerryError('VALIDATION_FAILED', 'A JSON patch is an array of {op, path, value} objects.');
  }
  const draft = mediaType === 'application/openstack-images-v2.0-json-patch';
  return body.map((entry: unknown, i) => {
    if (typeof entry !== 'object' || entry === null) {
      throw new FerryError('VALIDATION_FAILED', `Patch operation ${i} must be an object.`);
    }
    const fields = entry as Record<string, unknown>;
    let op: unknown = fields.op;
    let path: unknown = fields.path;
    if (draft) {
      const named = OPS.filter((name) => Object.hasOwn(fields, name));
      if (named.length !== 1) {
        throw new FerryError(
          'VALIDATION_FAILED',
          `Patch operation ${i} must name one of add, replace or remove, as {"replace": "/name", "value": …}.`,
        );
      }
      op = named[0];
      path = fields[named[0]!];
    }
    if (!OPS.includes(op as Op['op'])) {
      throw new FerryError('VALIDATION_FAILED', `Patch operation ${i}: op must be add, replace or remove.`);
    }
    if (typeof path !== 'string' || !path.startsWith('/') || /~(?![01])/.test(path)) {
      throw new FerryError(
        'VALIDATION_FAILED',
        `Patch operation ${i}: path must be a JSON pointer like /name (~0 and ~1 are its only escapes).`,
      );
    }
    if (op !== 'remove' && !('value' in fields)) {
      throw new FerryError('VALIDATION_FAILED', `Patch operation ${i}: ${op as string} needs a value.`);
    }
    return { op: op as Op['op'], path, value: fields.value };
  });
}

/** Turns `/os_distro` into `os_distro`, undoing JSON pointer escapes; nested paths are refused. */
function propertyName(path: string): string {
  const segments = path.slice(1).split('/');
  if (segments[0] === 'locations') {
    throw new FerryError('FORBIDDEN', 'Ferry keeps image data itself: image locations cannot be set.');
  }
  if (segments.length !== 1) {
    throw new FerryError(
      'VALIDATION_FAILED',
      `Unsupported patch path ${path}: name one property, like /name.`,
    );
  }
  return segments[0]!.replaceAll('~1', '/').replaceAll('~0', '~');
}

const QUEUED_ONLY = new Set(['disk_format', 'container_format']);

export function applyImagePatch(
  image: ImageRecord,
  body: unknown,
  principal: Principal,
  mediaType: string,
): ImageChanges {
  const columns: Partial<ImageRow> = {};
  const properties = { ...image.properties };
  let tags: string[] | undefined;
  for (const { op, path, value } of parseOps(body, mediaType)) {
    const name = propertyName(path);
    if (name === 'cmk_id') throw new FerryError('FORBIDDEN', 'cmk_id is set when an image is created, only.');
    if (name === 'owner') {
      if (op === 'remove') throw new FerryError('FORBIDDEN', 'The owner of an image cannot be removed.');
      if (!principal.isAdmin)
        throw new FerryError('FORBIDDEN', 'Only an administrator may change the owner.');
      if (typeof value !== 'string') throw new FerryError('VALIDATION_FAILED', 'owner must be a project id.');
      columns.owner = value;
      continue;
    }
    if (op === 'remove') assertPropertyName(name);
    else assertPropertyValue(name, value);
    if (isWritableCore(name)) {
      if (op === 'remove')
        throw new FerryError('FORBIDDEN', `Property '${name}' is a core property: replace it.`);
      if (QUEUED_ONLY.has(name) && image.status !== 'queued') {
        throw new FerryError('FORBIDDEN', `Attribute ${name} can be only replaced for a queued image.`);
      }
      switch (name) {
        case 'tags':
          tags = value as string[];
          break;
        case 'protected':
        case 'os_hidden':
          columns[name] = value === true ? 1 : 0;
          break;
        default:
          Object.assign(columns, { [name]: value });
      }
      continue;
    }
    if (op !== 'add' && !Object.hasOwn(properties, name)) {
      throw new FerryError('CONFLICT', `Property ${name} does not exist: use op add to create it.`);
    }
    if (op === 'remove') delete properties[name];
    else properties[name] = value as string;
  }
  const setProperties: Record<string, string> = {};
  for (const [name, value] of Object.entries(properties)) {
    if (image.properties[name] !== value) setProperties[name] = value;
  }
  const removeProperties = Object.keys(image.properties).filter((name) => !Object.hasOwn(properties, name));
  if (columns.disk_format !== undefined && columns.image_type === undefined) {
    // Glance clients know nothing of image_type: it follows disk_format where the two must agree (iso), as
    // it does on create.
    const wanted = defaultImageType(columns.disk_format);
    if ((wanted === 'iso') !== (image.image_type === 'iso')) columns.image_type = wanted;
  }
  assertImageFieldsAgree({ ...image, ...columns }, principal, image);
  return { columns, setProperties, removeProperties, ...(tags ? { tags } : {}) };
}
