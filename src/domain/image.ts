/**
 * Images: the values Ferry accepts for an image's fields, its status machine, and the rules that tie its fields
 * together (who may see an image: visibility.ts).
 * Pure rules, no I/O.
 *
 * Glossary: an image's *owner* is a project (an account's project in this region); a *member* is another
 * project the owner shared the image with; *frozen* is an administrator's hold (no change, share or
 * replication); *protected* is the owner's guard against deletion.
 * @module
 */
import { FerryError } from './errors.js';

export const IMAGE_STATUSES = ['queued', 'saving', 'active', 'killed', 'deleted', 'deactivated'] as const;
export type ImageStatus = (typeof IMAGE_STATUSES)[number];

export const VISIBILITIES = ['private', 'shared', 'public', 'community'] as const;
export type Visibility = (typeof VISIBILITIES)[number];

/** Formats Ferry can inspect and so accept; Glance's others (ami, vdi, ploop...) are refused. */
export const DISK_FORMATS = ['raw', 'qcow2', 'vmdk', 'vhd', 'vhdx', 'iso'] as const;
export type DiskFormatName = (typeof DISK_FORMATS)[number];

export const CONTAINER_FORMATS = ['bare', 'ovf', 'ova', 'ami', 'ari', 'aki', 'docker', 'compressed'] as const;

export const IMAGE_TYPES = ['system-disk', 'data-disk', 'full-server', 'iso'] as const;
export type ImageType = (typeof IMAGE_TYPES)[number];

export const MEMBER_STATUSES = ['pending', 'accepted', 'rejected'] as const;
export type MemberStatus = (typeof MEMBER_STATUSES)[number];

/**
 * The whole-image hashes a deployment may choose for `os_hash_value` (Glance's `hashing_algorithm` option,
 * which takes any hashlib name; Ferry offers the two the stock clients verify with and that deployments use).
 * The choice is recorded per image in `os_hash_algo`, so changing it leaves earlier images as they were.
 */
export const OS_HASH_ALGORITHMS = ['sha512', 'sha256'] as const;
export type OsHashAlgorithm = (typeof OS_HASH_ALGORITHMS)[number];

/** Glance's default `hashing_algorithm`; every image stored before the option existed used it. */
export const DEFAULT_OS_HASH_ALGO: OsHashAlgorithm = 'sha512';

export function isOsHashAlgorithm(value: unknown): value is OsHashAlgorithm {
  return (OS_HASH_ALGORITHMS as readonly unknown[]).includes(value);
}

/** Longest name, tag and property value Glance accepts (its schema's maxLength). */
export const MAX_NAME_LENGTH = 255;

/**
 * Allowed status changes. Upload: queued → saving → active; a failed upload: saving → killed; a refused
 * upload (wrong format, unsafe header): saving → queued, so the owner can upload the right file.
 */
const TRANSITIONS: Record<ImageStatus, readonly ImageStatus[]> = {
  queued: ['saving', 'deleted'],
  saving: ['active', 'killed', 'queued', 'deleted'],
  active: ['deactivated', 'deleted'],
  deactivated: ['active', 'deleted'],
  killed: ['deleted'],
  deleted: [],
};

export function canTransition(from: ImageStatus, to: ImageStatus): boolean {
  return TRANSITIONS[from].includes(to);
}

/**
 * Control characters (C0, DEL, C1): never in an image's name, tags or properties, which other accounts see
 * when the image is shared and terminals print (an escape sequence in a name would run in the reader's
 * terminal; a line break would forge a line of `ferry image list`). IMS refuses them in names likewise.
 */
const CONTROL_CHARACTER = /\p{Cc}/u;

/** Refuses `value` if it holds a control character; `what` names it in the message. */
export function assertNoControlCharacters(what: string, value: string): void {
  if (CONTROL_CHARACTER.test(value)) {
    throw new FerryError('VALIDATION_FAILED', `${what} must not contain control characters.`);
  }
}

/** The image type a new image gets when the caller names none. */
export function defaultImageType(diskFormat: string | null): ImageType {
  return diskFormat === 'iso' ? 'iso' : 'system-disk';
}

/**
 * A copy's custom properties: the source's, except its description, which is the one the copy was given
 * (IMS: empty unless given), not the source's.
 */
export function copyProperties(
  source: Readonly<Record<string, string>>,
  description: string | undefined,
): Record<string, string> {
  const properties = { ...source };
  delete properties.description;
  return description ? { ...properties, description } : properties;
}

/**
 * The rules that tie an image's fields together, checked on create and after every patch: image_type iso goes
 * with disk_format iso only; image_type full-server is neither given nor taken away; only an administrator makes an image public; an encrypted image (cmk_id) is never
 * shared, so it cannot be public or community either.
 */
export function assertImageFieldsAgree(
  fields: { image_type: string; disk_format: string | null; visibility: string; cmk_id: string | null },
  principal: { isAdmin: boolean },
  before?: { visibility: string; image_type: string },
): void {
  const { image_type: imageType, disk_format: diskFormat, visibility } = fields;
  // A whole-server image is made from disk images (images/whole-server.ts), never by naming its type.
  if ((imageType === 'full-server') !== (before?.image_type === 'full-server')) {
    throw new FerryError(
      'VALIDATION_FAILED',
      before?.image_type === 'full-server'
        ? 'A whole-server image keeps image_type full-server.'
        : 'image_type full-server is made from disk images: POST /v1/cloudimages/wholeimages.',
    );
  }
  if (diskFormat !== null && (imageType === 'iso') !== (diskFormat === 'iso')) {
    throw new FerryError('VALIDATION_FAILED', 'image_type iso goes with disk_format iso, and only with it.');
  }
  if (visibility === 'public' && before?.visibility !== 'public' && !principal.isAdmin) {
    throw new FerryError('FORBIDDEN', 'Only an administrator may publicize an image.');
  }
  if (fields.cmk_id !== null && (visibility === 'public' || visibility === 'community')) {
    throw new FerryError(
      'FORBIDDEN',
      `Encrypted images are not shared: visibility ${visibility} is refused (keep private or shared without members).`,
    );
  }
}
