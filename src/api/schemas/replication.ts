/**
 * Schemas of the replication API's requests (routes/replication.ts). Unknown fields are refused, not
 * ignored: a misspelt `bandwidth_limit` or `regions` would otherwise start an uncapped copy, or one to fewer
 * regions.
 * @module
 */
import { Type, type Static } from 'typebox';
import { JOB_STATUSES, JOB_TYPES } from '../../domain/job.js';
import { MAX_BANDWIDTH_LIMIT } from '../../config/replication.js';
import { MAX_COPY_NAME_LENGTH } from '../../domain/replication-rules.js';
import { nullable, oneOf } from './common.js';

/**
 * Lowest bandwidth cap accepted (128 KiB/s): the source sends whole 1 MiB chunks as the cap allows, and below
 * this the pause between two chunks would near the transfer's 30 s stall timeout (REGION_CALL_TIMEOUT_MS).
 */
export const MIN_BANDWIDTH_LIMIT = 128 * 1024;

/** The name of a new image (a copy or a replica): IMS's rule (the console shows these names). */
const ImageName = Type.String({
  minLength: 1,
  maxLength: MAX_COPY_NAME_LENGTH,
  pattern: '^(?=[\\s\\S]*\\S)[^<>\\p{Cc}]*$',
  description: `1 to ${MAX_COPY_NAME_LENGTH} characters, not all blank, without <, > or control characters.`,
});

const Description = Type.String({
  maxLength: 1024,
  pattern: '^[^<>\\r]*$',
  description: 'at most 1,024 characters, without <, > or carriage returns.',
});

const RegionList = Type.Array(Type.String({ maxLength: 64 }), {
  minItems: 1,
  maxItems: 50,
  description: 'a list of 1 to 50 names.',
});

/** Names each replica `<name_prefix><source name>` instead of `copy_<source region>_<source name>`. */
const NamePrefix = Type.String({
  minLength: 1,
  maxLength: 64,
  pattern: '^[^<>\\p{Cc}]*$',
  description: '1 to 64 characters without <, > or control characters.',
});

/** AWS CopyImage's ClientToken: the same token and request within 24 hours answers the first one's jobs. */
const ClientToken = Type.String({
  minLength: 1,
  maxLength: 64,
  pattern: '^[\\x21-\\x7e]+$',
  description: '1 to 64 printable ASCII characters, without spaces.',
});

/** The fields both replication calls take (the one-image call also takes `name`). */
const copyFields = {
  description: Type.Optional(nullable(Description)),
  region: Type.Optional(
    nullable(Type.String({ maxLength: 64, description: 'a region of the catalog (64 characters at most).' })),
  ),
  regions: Type.Optional(RegionList),
  project_name: Type.Optional(
    nullable(
      Type.String({
        minLength: 1,
        maxLength: 255,
        description: '1 to 255 characters (leave it out for the project named after the destination region).',
      }),
    ),
  ),
  agency_name: Type.String({
    minLength: 1,
    maxLength: 255,
    description: 'the name of an agency of your account (1 to 255 characters).',
  }),
  vault_id: Type.Optional(nullable(Type.String({ maxLength: 255, description: 'at most 255 characters.' }))),
  bandwidth_limit: Type.Optional(
    Type.Integer({
      minimum: MIN_BANDWIDTH_LIMIT,
      maximum: MAX_BANDWIDTH_LIMIT,
      description: `an integer number of bytes per second from ${MIN_BANDWIDTH_LIMIT} (128 KiB/s) to ${MAX_BANDWIDTH_LIMIT} (100 GiB/s).`,
    }),
  ),
  // Ferry's extensions, after IMS's fields.
  name_prefix: Type.Optional(NamePrefix),
  share_with: Type.Optional(
    Type.Array(Type.String({ minLength: 1, maxLength: 64 }), {
      maxItems: 128,
      uniqueItems: true,
      description: 'a list of at most 128 distinct project IDs of the destination region.',
    }),
  ),
  client_token: Type.Optional(ClientToken),
};

/** `POST /v1/cloudimages/{image_id}/cross_region_copy`: IMS's body, and `regions` for several destinations. */
export const CrossRegionCopyBody = Type.Object(
  { name: Type.Optional(nullable(ImageName)), ...copyFields },
  { additionalProperties: false },
);
export type CrossRegionCopyBody = Static<typeof CrossRegionCopyBody>;

/**
 * `POST /v1/cloudimages/cross_region_copy`: several images to one or more regions. No `name` (IMS's Table 3
 * has none, and one name would be given to every replica): each replica gets its default name, or
 * `name_prefix` followed by its source's name.
 */
export const BatchCrossRegionCopyBody = Type.Object(
  { image_ids: RegionList, ...copyFields },
  { additionalProperties: false },
);
export type BatchCrossRegionCopyBody = Static<typeof BatchCrossRegionCopyBody>;

/** `POST /v1/cloudimages/{image_id}/copy`: IMS's in-region copy (`enterprise_project_id` taken, not used). */
export const InRegionCopyBody = Type.Object(
  {
    name: ImageName,
    description: Type.Optional(nullable(Description)),
    cmk_id: Type.Optional(nullable(Type.String({ maxLength: 255, description: 'at most 255 characters.' }))),
    enterprise_project_id: Type.Optional(Type.Unknown()),
    client_token: Type.Optional(ClientToken),
  },
  { additionalProperties: false },
);
export type InRegionCopyBody = Static<typeof InRegionCopyBody>;

/** `GET /v1/cloudimages/jobs`. Query values arrive as strings; a repeated parameter is refused. */
export const JobListQuery = Type.Object({
  status: Type.Optional(oneOf(JOB_STATUSES)),
  job_type: Type.Optional(oneOf(Object.values(JOB_TYPES))),
  image_id: Type.Optional(Type.String({ description: 'a single image ID.' })),
  marker: Type.Optional(Type.String({ description: 'the ID of the last job of the previous page.' })),
  limit: Type.Optional(
    Type.String({ pattern: '^(1000|[1-9][0-9]{0,2})$', description: 'an integer from 1 to 1000.' }),
  ),
});
export type JobListQuery = Static<typeof JobListQuery>;

export const JobParams = Type.Object({ job: Type.String({ description: 'the job ID' }) });
