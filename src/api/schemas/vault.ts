/**
 * Vaults, their backups and whole-server images as the API takes and shows them (routes/vaults.ts); the CLI
 * reads the same shapes (`ferry vault`, `ferry image create --whole-server`).
 * @module
 */
import { Type, type Static } from 'typebox';
import { MAX_NAME_LENGTH } from '../../domain/image.js';
import {
  MAX_VAULT_GIB,
  MAX_WHOLE_SERVER_DISKS,
  MIN_VAULT_GIB,
  PROTECTION_TYPES,
} from '../../domain/vault.js';
import { nullable, oneOf } from './common.js';

/** The name rule IMS applies to image names, used for vault names too: no control characters. */
const Name = (max: number) =>
  Type.String({
    minLength: 1,
    maxLength: max,
    pattern: '^[^\\u0000-\\u001f\\u007f]*$',
    description: `1 to ${max} characters, no control characters.`,
  });

export const VaultCreateBody = Type.Object(
  {
    name: Name(64),
    protection_type: oneOf(PROTECTION_TYPES),
    size_gib: Type.Integer({
      minimum: MIN_VAULT_GIB,
      maximum: MAX_VAULT_GIB,
      description: `an integer from ${MIN_VAULT_GIB} to ${MAX_VAULT_GIB} (GiB).`,
    }),
  },
  { additionalProperties: false },
);
export type VaultCreateBody = Static<typeof VaultCreateBody>;

export const VaultView = Type.Object({
  id: Type.String(),
  name: Type.String(),
  region: Type.String(),
  project_id: Type.String(),
  protection_type: oneOf(PROTECTION_TYPES),
  /** Capacity, bytes. */
  size: Type.Integer(),
  /** Bytes its backups take (those still arriving by replication included). */
  used: Type.Integer(),
  created_at: Type.String(),
});
export type VaultView = Static<typeof VaultView>;

export const BackupView = Type.Object({
  id: Type.String(),
  vault_id: Type.String(),
  image_id: Type.String(),
  /** 0: the system disk; 1..: the data disks. */
  disk_index: Type.Integer(),
  role: oneOf(['system', 'data'] as const),
  /** available, or creating while a replication brings its data. */
  status: Type.String(),
  disk_format: Type.String(),
  size: Type.Integer(),
  virtual_size: nullable(Type.Integer()),
  checksum: nullable(Type.String()),
  os_hash_algo: nullable(Type.String()),
  os_hash_value: nullable(Type.String()),
  created_at: Type.String(),
  /** Where its data is downloaded. */
  file: Type.String(),
});
export type BackupView = Static<typeof BackupView>;

export const WholeServerBody = Type.Object(
  {
    name: Name(MAX_NAME_LENGTH),
    description: Type.Optional(Type.String({ maxLength: 1024, description: 'at most 1024 characters.' })),
    vault_id: Type.String({ minLength: 1, maxLength: 64, description: 'a vault ID of this region.' }),
    disks: Type.Array(Type.String({ minLength: 1, maxLength: 64 }), {
      minItems: 1,
      maxItems: MAX_WHOLE_SERVER_DISKS,
      description: `1 to ${MAX_WHOLE_SERVER_DISKS} image IDs, the system disk first.`,
    }),
    min_ram: Type.Optional(Type.Integer({ minimum: 0, description: 'an integer ≥ 0 (MiB).' })),
    tags: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: MAX_NAME_LENGTH }))),
  },
  { additionalProperties: false },
);
export type WholeServerBody = Static<typeof WholeServerBody>;

/** `/v1/cloudimages/{id}/disks/{index}/file`. */
export const DiskParams = Type.Object({
  id: Type.String({ description: 'the image ID in the path' }),
  index: Type.String({
    pattern: '^(0|[1-9][0-9]?)$',
    description: `a disk index from 0 to ${MAX_WHOLE_SERVER_DISKS - 1}.`,
  }),
});
