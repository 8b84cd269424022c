/**
 * The JSON schemas Glance serves under /v2/schemas/, which clients (python-glanceclient) download to
 * validate what they send and receive. Ferry's extra fields are declared here, typed, so clients accept them.
 * The same property table validates create and update requests.
 * @module
 */
import {
  CONTAINER_FORMATS,
  DISK_FORMATS,
  IMAGE_STATUSES,
  IMAGE_TYPES,
  MAX_NAME_LENGTH,
  MEMBER_STATUSES,
  VISIBILITIES,
} from '../../domain/image.js';

const UUID_PATTERN =
  '^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$';

/** Properties a caller may set (on create and by JSON patch), with their JSON types. */
export const WRITABLE_PROPERTIES = {
  name: {
    type: ['null', 'string'],
    maxLength: MAX_NAME_LENGTH,
    description: 'Descriptive name for the image',
  },
  visibility: { type: 'string', enum: [...VISIBILITIES], description: 'Scope of image accessibility' },
  protected: { type: 'boolean', description: 'If true, the image cannot be deleted.' },
  os_hidden: { type: 'boolean', description: 'If true, the image is left out of default lists.' },
  container_format: {
    type: ['null', 'string'],
    enum: [null, ...CONTAINER_FORMATS],
    description: 'Format of the container',
  },
  disk_format: { type: ['null', 'string'], enum: [null, ...DISK_FORMATS], description: 'Format of the disk' },
  min_ram: { type: 'integer', minimum: 0, maximum: 2 ** 31 - 1, description: 'Amount of RAM in MB' },
  min_disk: { type: 'integer', minimum: 0, maximum: 2 ** 31 - 1, description: 'Amount of disk space in GB' },
  tags: {
    type: 'array',
    items: { type: 'string', minLength: 1, maxLength: MAX_NAME_LENGTH },
    // No maxItems: more than MAX_TAGS distinct tags is a quota (413 LIMIT_EXCEEDED, as Glance), not a
    // malformed request.
    description: 'List of strings related to the image',
  },
  image_type: { type: 'string', enum: [...IMAGE_TYPES], description: 'Ferry: system-disk, data-disk, ...' },
  cmk_id: {
    type: ['null', 'string'],
    maxLength: MAX_NAME_LENGTH,
    description: 'Ferry: key id the image is encrypted with (set at creation only)',
  },
} as const;

const READ_ONLY_PROPERTIES = {
  id: { type: 'string', pattern: UUID_PATTERN, description: 'An identifier for the image' },
  status: { type: 'string', readOnly: true, enum: [...IMAGE_STATUSES], description: 'Status of the image' },
  checksum: {
    type: ['null', 'string'],
    readOnly: true,
    maxLength: 32,
    description: 'md5 hash of image data',
  },
  os_hash_algo: { type: ['null', 'string'], readOnly: true, maxLength: 64, description: 'Hash algorithm' },
  os_hash_value: {
    type: ['null', 'string'],
    readOnly: true,
    maxLength: 128,
    description: 'Hash of the data',
  },
  owner: { type: ['null', 'string'], maxLength: 255, description: 'Owner of the image' },
  size: { type: ['null', 'integer'], readOnly: true, description: 'Size of image file in bytes' },
  virtual_size: { type: ['null', 'integer'], readOnly: true, description: 'Virtual size of image in bytes' },
  created_at: { type: 'string', readOnly: true, description: 'Date and time of image registration' },
  updated_at: { type: 'string', readOnly: true, description: 'Date and time of the last image modification' },
  encrypted: { type: 'boolean', readOnly: true, description: 'Ferry: the image data is encrypted' },
  frozen: { type: 'boolean', readOnly: true, description: 'Ferry: frozen by an administrator' },
  replication: {
    type: ['null', 'object'],
    readOnly: true,
    description: 'Ferry: where a replicated image came from, and its progress while replicating',
  },
  self: { type: 'string', readOnly: true, description: 'An image self url' },
  file: { type: 'string', readOnly: true, description: 'An image file url' },
  schema: { type: 'string', readOnly: true, description: 'An image schema url' },
  locations: { type: 'array', items: { type: 'object' }, description: 'Not supported by Ferry' },
  direct_url: { type: 'string', readOnly: true, description: 'Not supported by Ferry' },
} as const;

/** Names a caller may never set or patch. */
export const READ_ONLY_NAMES: ReadonlySet<string> = new Set([
  ...Object.keys(READ_ONLY_PROPERTIES),
  'deleted',
  'deleted_at',
  'stores',
]);

/** Free-form properties: strings up to 255 characters (Glance's additionalProperties). */
export const ADDITIONAL_PROPERTY = { type: 'string', maxLength: MAX_NAME_LENGTH } as const;

export const IMAGE_SCHEMA = {
  name: 'image',
  properties: { ...READ_ONLY_PROPERTIES, ...WRITABLE_PROPERTIES },
  additionalProperties: ADDITIONAL_PROPERTY,
  links: [
    { rel: 'self', href: '{self}' },
    { rel: 'enclosure', href: '{file}' },
    { rel: 'describedby', href: '{schema}' },
  ],
};

export const IMAGES_SCHEMA = {
  name: 'images',
  properties: {
    images: { type: 'array', items: IMAGE_SCHEMA },
    schema: { type: 'string' },
    first: { type: 'string' },
    next: { type: 'string' },
  },
  links: [
    { rel: 'first', href: '{first}' },
    { rel: 'next', href: '{next}' },
    { rel: 'describedby', href: '{schema}' },
  ],
};

export const MEMBER_SCHEMA = {
  name: 'member',
  properties: {
    created_at: { type: 'string', description: 'Date and time of image member creation' },
    image_id: { type: 'string', pattern: UUID_PATTERN, description: 'An identifier for the image' },
    member_id: { type: 'string', description: 'An identifier for the image member (project id)' },
    schema: { type: 'string', readOnly: true },
    status: { type: 'string', enum: [...MEMBER_STATUSES], description: 'The status of this image member' },
    updated_at: { type: 'string', description: 'Date and time of last modification of image member' },
  },
};

export const MEMBERS_SCHEMA = {
  name: 'members',
  properties: { members: { type: 'array', items: MEMBER_SCHEMA }, schema: { type: 'string' } },
  links: [{ rel: 'schema', href: '{schema}' }],
};
