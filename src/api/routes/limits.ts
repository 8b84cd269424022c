/**
 * `GET /v1/limits`: the limits a caller meets in this region, so that a client can check a request before it
 * is refused (IMS and Glance document theirs; Ferry's come from the deployment's settings).
 * @module
 */
import type { FastifyInstance } from 'fastify';
import { MAX_MEMBERS } from '../../images/members.js';
import {
  MAX_VAULT_GIB,
  MAX_WHOLE_SERVER_DISKS,
  MAX_WHOLE_SERVER_MEMBERS,
  MIN_VAULT_GIB,
} from '../../domain/vault.js';
import { MAX_METADATA_BYTES, MAX_PROPERTIES, MAX_TAGS } from '../../images/quotas.js';
import { CLIENT_TOKEN_TTL_MS } from '../../replication/client-tokens.js';
import type { RegionContext } from '../../region/context.js';
import type { LimitsView } from '../schemas/limits.js';

export function registerLimitRoutes(app: FastifyInstance, ctx: RegionContext): void {
  app.get('/v1/limits', async (): Promise<LimitsView> => ({
    region: ctx.region,
    max_image_bytes: ctx.limits.maxImageBytes,
    max_replication_image_bytes: ctx.replication.limits.maxImageBytes,
    max_running_replications_per_user: ctx.replication.limits.maxRunningJobsPerUser,
    max_members_per_image: MAX_MEMBERS,
    max_members_per_whole_server_image: MAX_WHOLE_SERVER_MEMBERS,
    max_disks_per_whole_server_image: MAX_WHOLE_SERVER_DISKS,
    vault_size_gib: { min: MIN_VAULT_GIB, max: MAX_VAULT_GIB },
    max_tags_per_image: MAX_TAGS,
    max_properties_per_image: MAX_PROPERTIES,
    max_metadata_bytes_per_image: MAX_METADATA_BYTES,
    max_images_per_project: ctx.limits.maxImagesPerProject,
    max_concurrent_uploads_per_account: ctx.limits.maxConcurrentUploadsPerAccount,
    client_token_ttl_seconds: CLIENT_TOKEN_TTL_MS / 1000,
  }));
}
