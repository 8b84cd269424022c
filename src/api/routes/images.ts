/**
 * Glance v2 image metadata routes: create, list, show, JSON-patch update, delete, tags, and the
 * deactivate/reactivate actions, plus Ferry's administrator freeze/unfreeze.
 * @module
 */
import type { FastifyInstance } from 'fastify';
import { FerryError } from '../../domain/errors.js';
import { isUuid } from '../../domain/ids.js';
import type { ImageStatus } from '../../domain/image.js';
import { loadVisibleImage } from '../../images/access.js';
import { createImage, type ImageCreation } from '../../images/create.js';
import { listVisibleImages, withReplicationJobs } from '../../images/list.js';
import {
  changeImageStatus,
  deleteOwnImage,
  setImageFrozen,
  updateImageRecord,
} from '../../images/changes.js';
import { setImageTag } from '../../images/tags.js';
import { principalOf, requireAdmin } from '../auth.js';
import { parseListQuery } from '../image-list-query.js';
import { firstLink, nextLink } from '../page-links.js';
import { imageView } from '../image-view.js';
import { applyImagePatch } from '../image-patch.js';
import { assertPropertyValue, isWritableCore } from '../validate.js';
import { JSON_PATCH_MEDIA_TYPES, mediaTypeOf } from '../media-type.js';
import type { RegionContext } from '../../region/context.js';

type IdParams = { id: string };

function asObject(body: unknown): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new FerryError('VALIDATION_FAILED', 'The request body must be a JSON object.');
  }
  return body as Record<string, unknown>;
}

/**
 * A create body checked against the image schema (validate.ts): every field but `id` and `owner` is an image
 * property, core (with its type) or free-form (a string).
 */
function parseCreation(body: Record<string, unknown>): ImageCreation {
  const properties: Record<string, string> = {};
  for (const [name, value] of Object.entries(body)) {
    if (name === 'id' || name === 'owner') continue;
    assertPropertyValue(name, value);
    if (!isWritableCore(name)) properties[name] = value as string;
  }
  if (body.id !== undefined && (typeof body.id !== 'string' || !isUuid(body.id)))
    throw new FerryError('VALIDATION_FAILED', 'id must be a UUID.');
  const core = body as Omit<ImageCreation, 'owner' | 'properties'>;
  return {
    id: core.id,
    // Anything but a project ID names no project: it is refused as one (images/create.ts).
    owner: body.owner === undefined || body.owner === null ? undefined : String(body.owner),
    name: core.name,
    visibility: core.visibility,
    disk_format: core.disk_format,
    container_format: core.container_format,
    image_type: core.image_type,
    cmk_id: core.cmk_id,
    min_disk: core.min_disk,
    min_ram: core.min_ram,
    protected: core.protected,
    os_hidden: core.os_hidden,
    tags: core.tags,
    properties,
  };
}

export function registerImageRoutes(app: FastifyInstance, ctx: RegionContext): void {
  app.post('/v2/images', async (request, reply) => {
    const principal = principalOf(request);
    const image = await createImage(ctx, principal, parseCreation(asObject(request.body)));
    request.log.info({ audit: 'image.create', image: image.id, by: principal.userId }, 'image created');
    return reply.code(201).header('location', `/v2/images/${image.id}`).send(imageView(image));
  });

  app.get('/v2/images', async (request) => {
    const principal = principalOf(request);
    const query = request.query as Record<string, string | string[] | undefined>;
    const options = await parseListQuery(ctx, principal, query);
    const images = await listVisibleImages(ctx, options);
    const body: Record<string, unknown> = {
      images: images.map(({ image, job }) => imageView(image, job)),
      first: firstLink('/v2/images', query),
      schema: '/v2/schemas/images',
    };
    const last = images.at(-1)?.image;
    if (last && images.length === options.limit) body.next = nextLink('/v2/images', query, last.id);
    return body;
  });

  app.get<{ Params: IdParams }>('/v2/images/:id', async (request) => {
    const image = await loadVisibleImage(ctx, principalOf(request), request.params.id);
    const [read] = await withReplicationJobs(ctx, [image]);
    return imageView(read!.image, read!.job);
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
    const image = await updateImageRecord(ctx, principal, request.params.id, (current) =>
      applyImagePatch(current, request.body, principal, mediaType),
    );
    request.log.info({ audit: 'image.update', image: image.id, by: principal.userId }, 'image updated');
    return imageView(image);
  });

  app.delete<{ Params: IdParams }>('/v2/images/:id', async (request, reply) => {
    const principal = principalOf(request);
    const image = await deleteOwnImage(ctx, principal, request.params.id);
    request.log.info({ audit: 'image.delete', image: image.id, by: principal.userId }, 'image deleted');
    return reply.code(204).send();
  });

  app.put<{ Params: IdParams & { tag: string } }>('/v2/images/:id/tags/:tag', async (request, reply) => {
    await setImageTag(ctx, principalOf(request), request.params.id, request.params.tag, true);
    return reply.code(204).send();
  });

  app.delete<{ Params: IdParams & { tag: string } }>('/v2/images/:id/tags/:tag', async (request, reply) => {
    await setImageTag(ctx, principalOf(request), request.params.id, request.params.tag, false);
    return reply.code(204).send();
  });

  const statusAction = (name: string, from: ImageStatus, to: ImageStatus) =>
    app.post<{ Params: IdParams }>(`/v2/images/:id/actions/${name}`, async (request, reply) => {
      const principal = principalOf(request);
      const moved = await changeImageStatus(ctx, principal, request.params.id, { name, from, to });
      if (moved) {
        request.log.info({ audit: `image.${name}`, image: moved.id, by: principal.userId }, `image ${name}d`);
      }
      return reply.code(204).send();
    });
  statusAction('deactivate', 'active', 'deactivated');
  statusAction('reactivate', 'deactivated', 'active');

  const freezeAction = (name: string, frozen: boolean) =>
    app.post<{ Params: IdParams }>(`/v2/images/:id/actions/${name}`, async (request, reply) => {
      const principal = requireAdmin(request);
      const image = await setImageFrozen(ctx, request.params.id, frozen);
      request.log.info(
        { audit: `image.${name}`, image: image.id, by: principal.userId },
        `image ${name} done`,
      );
      return reply.code(204).send();
    });
  freezeAction('freeze', true);
  freezeAction('unfreeze', false);
}
