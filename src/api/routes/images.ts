/**
 * Glance v2 image metadata routes: create, list, show, JSON-patch update, delete, tags, and the
 * deactivate/reactivate actions, plus Ferry's administrator freeze/unfreeze.
 * @module
 */
import type { FastifyInstance } from 'fastify';
import { FerryError, isFerryError } from '../../domain/errors.js';
import { isUuid, newUuid } from '../../domain/ids.js';
import { defaultImageType, MAX_NAME_LENGTH, type ImageStatus } from '../../domain/image.js';
import { timestamp } from '../../store/clock.js';
import { findProject } from '../../store/identity.js';
import {
  addTag,
  countTags,
  deleteImage,
  findImage,
  insertImage,
  isImageIdTaken,
  removeTag,
  transitionImage,
  updateImage,
  type ImageChanges,
  type ImageRecord,
  type ImageRow,
} from '../../store/images.js';
import { principalOf, requireAdmin } from '../auth.js';
import { assertNotFrozen, loadOwnedImage, loadVisibleImage, notFound } from '../../images/access.js';
import { parseListQuery } from '../image-list-query.js';
import { firstLink, nextLink } from '../page-links.js';
import { imageView } from '../image-view.js';
import { applyImagePatch } from '../image-patch.js';
import { assertImageFieldsAgree, assertPropertyValue, isWritableCore } from '../validate.js';
import { listImages } from '../../store/image-list.js';
import type { Principal } from '../../identity/tokens.js';
import { assertNotBeingReplicated, cancelSourceJob } from '../../replication/source-jobs.js';
import { findJobsByIds, listActiveSourceJobsOfImage } from '../../store/jobs.js';
import { JSON_PATCH_MEDIA_TYPES, mediaTypeOf } from '../media-type.js';
import type { RegionContext } from '../../region/context.js';

/** Glance's default image tag limit (image_tag_quota). */
export const MAX_TAGS = 128;

type IdParams = { id: string };

/**
 * Refuses a change to an image that is frozen, that a replication is reading (source), or that a replication is
 * still writing (a replica in `saving`): its name and data belong to the job until it ends.
 */
async function assertChangeable(ctx: RegionContext, image: ImageRecord): Promise<void> {
  assertNotFrozen(image);
  if (image.status === 'saving' && image.replication_job_id !== null) {
    throw new FerryError(
      'IMAGE_IN_USE',
      `Image ${image.id} is being replicated into this region: wait for the copy to end, or cancel it (cancel_copy).`,
    );
  }
  await assertNotBeingReplicated(ctx, image.id);
}

function asObject(body: unknown): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new FerryError('VALIDATION_FAILED', 'The request body must be a JSON object.');
  }
  return body as Record<string, unknown>;
}

async function assertOwnerAllowed(ctx: RegionContext, principal: Principal, owner: unknown): Promise<string> {
  if (owner === undefined || owner === null || owner === principal.projectId) return principal.projectId;
  if (!principal.isAdmin)
    throw new FerryError('FORBIDDEN', 'You may not create images owned by another project.');
  if (typeof owner !== 'string' || !(await findProject(ctx.db, owner))) {
    throw new FerryError('VALIDATION_FAILED', `Owner ${String(owner)} is not a project of this region.`);
  }
  return owner;
}

export function registerImageRoutes(app: FastifyInstance, ctx: RegionContext): void {
  app.post('/v2/images', async (request, reply) => {
    const principal = principalOf(request);
    const body = asObject(request.body);
    const properties: Record<string, string> = {};
    for (const [name, value] of Object.entries(body)) {
      if (name === 'id' || name === 'owner') continue;
      assertPropertyValue(name, value);
      if (!isWritableCore(name)) properties[name] = value as string;
    }
    const id = body.id === undefined ? newUuid() : body.id;
    if (typeof id !== 'string' || !isUuid(id))
      throw new FerryError('VALIDATION_FAILED', 'id must be a UUID.');
    if (await isImageIdTaken(ctx.db, id.toLowerCase())) {
      throw new FerryError(
        'DUPLICATE',
        `An image with ID ${id} exists or existed: image IDs are never reused. Leave id out to get a new one.`,
      );
    }
    const owner = await assertOwnerAllowed(ctx, principal, body.owner);
    const visibility = (body.visibility as string | undefined) ?? 'shared';
    const diskFormat = (body.disk_format as string | null | undefined) ?? null;
    const imageType = (body.image_type as string | undefined) ?? defaultImageType(diskFormat);
    const cmkId = (body.cmk_id as string | null | undefined) ?? null;
    assertImageFieldsAgree(
      { image_type: imageType, disk_format: diskFormat, visibility, cmk_id: cmkId },
      principal,
    );
    const now = timestamp(ctx.clock);
    const row: ImageRow = {
      id: id.toLowerCase(),
      owner,
      name: (body.name as string | null | undefined) ?? null,
      status: 'queued',
      visibility,
      disk_format: diskFormat,
      container_format: (body.container_format as string | null | undefined) ?? null,
      size: null,
      virtual_size: null,
      checksum: null,
      os_hash_algo: null,
      os_hash_value: null,
      manifest_digest: null,
      min_disk: (body.min_disk as number | undefined) ?? 0,
      min_ram: (body.min_ram as number | undefined) ?? 0,
      protected: body.protected === true ? 1 : 0,
      os_hidden: body.os_hidden === true ? 1 : 0,
      image_type: imageType,
      cmk_id: cmkId,
      frozen: 0,
      created_at: now,
      updated_at: now,
      source_region: null,
      source_image_id: null,
      replication_job_id: null,
    };
    const tags = (body.tags as string[] | undefined) ?? [];
    if (new Set(tags).size > MAX_TAGS) throw new FerryError('LIMIT_EXCEEDED', `At most ${MAX_TAGS} tags.`);
    const image = await insertImage(ctx.db, row, tags, properties);
    request.log.info({ audit: 'image.create', image: image.id, by: principal.userId }, 'image created');
    return reply.code(201).header('location', `/v2/images/${image.id}`).send(imageView(image));
  });

  app.get('/v2/images', async (request) => {
    const principal = principalOf(request);
    const query = request.query as Record<string, string | string[] | undefined>;
    const options = await parseListQuery(ctx, principal, query);
    const images = await listImages(ctx.db, options);
    const body: Record<string, unknown> = {
      images: await viewsWithReplication(ctx, images),
      first: firstLink('/v2/images', query),
      schema: '/v2/schemas/images',
    };
    const last = images.at(-1);
    if (last && images.length === options.limit) body.next = nextLink('/v2/images', query, last.id);
    return body;
  });

  app.get<{ Params: IdParams }>('/v2/images/:id', async (request) => {
    const image = await loadVisibleImage(ctx, principalOf(request), request.params.id);
    return (await viewsWithReplication(ctx, [image]))[0];
  });

  app.patch<{ Params: IdParams }>('/v2/images/:id', async (request) => {
    const principal = principalOf(request);
    const mediaType = mediaTypeOf(request.headers['content-type']);
    if (mediaType === undefined || !JSON_PATCH_MEDIA_TYPES.some((accepted) => accepted === mediaType)) {
      throw new FerryError(
        'UNSUPPORTED_MEDIA_TYPE',
        'Send the update as application/openstack-images-v2.1-json-patch.',
      );
    }
    const image = await loadOwnedImage(ctx, principal, request.params.id);
    await assertChangeable(ctx, image);
    const changes = applyImagePatch(image, request.body, principal, mediaType);
    if (changes.columns?.owner !== undefined && !(await findProject(ctx.db, changes.columns.owner))) {
      throw new FerryError(
        'VALIDATION_FAILED',
        `Owner ${changes.columns.owner} is not a project of this region.`,
      );
    }
    if (changes.tags && new Set(changes.tags).size > MAX_TAGS) {
      throw new FerryError('LIMIT_EXCEEDED', `At most ${MAX_TAGS} tags.`);
    }
    await updateImage(ctx.db, image.id, changes, timestamp(ctx.clock));
    request.log.info({ audit: 'image.update', image: image.id, by: principal.userId }, 'image updated');
    return imageView(await reload(ctx, image.id));
  });

  app.delete<{ Params: IdParams }>('/v2/images/:id', async (request, reply) => {
    const principal = principalOf(request);
    const image = await loadOwnedImage(ctx, principal, request.params.id);
    if (image.protected === 1) {
      throw new FerryError('IMAGE_PROTECTED', `Image ${image.id} is protected: set protected=false first.`);
    }
    await assertChangeable(ctx, image);
    await deleteImage(ctx.db, image.id, timestamp(ctx.clock));
    request.log.info({ audit: 'image.delete', image: image.id, by: principal.userId }, 'image deleted');
    return reply.code(204).send();
  });

  app.put<{ Params: IdParams & { tag: string } }>('/v2/images/:id/tags/:tag', async (request, reply) => {
    const image = await loadOwnedImage(ctx, principalOf(request), request.params.id);
    await assertChangeable(ctx, image);
    const tag = request.params.tag;
    if (tag.length === 0 || tag.length > MAX_NAME_LENGTH) {
      throw new FerryError('VALIDATION_FAILED', `Tags must be 1 to ${MAX_NAME_LENGTH} characters long.`);
    }
    if (!image.tags.includes(tag) && (await countTags(ctx.db, image.id)) >= MAX_TAGS) {
      throw new FerryError('LIMIT_EXCEEDED', `An image may carry at most ${MAX_TAGS} tags.`);
    }
    await addTag(ctx.db, image.id, tag, timestamp(ctx.clock));
    return reply.code(204).send();
  });

  app.delete<{ Params: IdParams & { tag: string } }>('/v2/images/:id/tags/:tag', async (request, reply) => {
    const image = await loadOwnedImage(ctx, principalOf(request), request.params.id);
    await assertChangeable(ctx, image);
    if (!(await removeTag(ctx.db, image.id, request.params.tag, timestamp(ctx.clock)))) {
      throw new FerryError('NOT_FOUND', `Image ${image.id} has no tag ${request.params.tag}.`);
    }
    return reply.code(204).send();
  });

  const statusAction = (path: string, from: ImageStatus, to: ImageStatus) =>
    app.post<{ Params: IdParams }>(`/v2/images/:id/actions/${path}`, async (request, reply) => {
      const principal = principalOf(request);
      const image = await loadOwnedImage(ctx, principal, request.params.id);
      await assertChangeable(ctx, image);
      if (image.status !== to) {
        // Compare-and-set: an upload or delete that moved the image meanwhile wins.
        const moved =
          image.status === from && (await transitionImage(ctx.db, image.id, from, to, timestamp(ctx.clock)));
        if (!moved) {
          throw new FerryError(
            'INVALID_STATUS_TRANSITION',
            `Cannot ${path} image ${image.id} in status '${image.status}'.`,
          );
        }
        request.log.info({ audit: `image.${path}`, image: image.id, by: principal.userId }, `image ${path}d`);
      }
      return reply.code(204).send();
    });
  statusAction('deactivate', 'active', 'deactivated');
  statusAction('reactivate', 'deactivated', 'active');

  const freezeAction = (path: string, frozen: number) =>
    app.post<{ Params: IdParams }>(`/v2/images/:id/actions/${path}`, async (request, reply) => {
      const principal = requireAdmin(request);
      const image = await findImage(ctx.db, request.params.id);
      if (!image) throw notFound(request.params.id);
      await updateImage(ctx.db, image.id, { columns: { frozen } }, timestamp(ctx.clock));
      if (frozen === 1) {
        // A frozen image is not replicated: copies already under way stop, their replicas leave.
        for (const job of await listActiveSourceJobsOfImage(ctx.db, image.id)) {
          await cancelSourceJob(ctx, job).catch((error: unknown) => {
            if (!(isFerryError(error) && error.code === 'JOB_FINISHED')) throw error;
          });
        }
      }
      request.log.info(
        { audit: `image.${path}`, image: image.id, by: principal.userId },
        `image ${path} done`,
      );
      return reply.code(204).send();
    });
  freezeAction('freeze', 1);
  freezeAction('unfreeze', 0);
}

/** Image views, with the replication progress of images being replicated into this region. */
async function viewsWithReplication(
  ctx: RegionContext,
  images: ImageRecord[],
): Promise<Array<Record<string, unknown>>> {
  const jobIds = images.filter((i) => i.replication_job_id !== null).map((i) => i.replication_job_id!);
  const jobs = new Map((await findJobsByIds(ctx.db, jobIds)).map((job) => [job.id, job]));
  return images.map((image) => imageView(image, jobs.get(image.replication_job_id ?? '')));
}

async function reload(ctx: RegionContext, id: string): Promise<ImageRecord> {
  const image = await findImage(ctx.db, id);
  if (!image) throw notFound(id);
  return image;
}

export type { ImageChanges };
