/**
 * Events of the account's replications in this region (`GET /v1/events`) and the webhooks they are delivered
 * to (`/v1/webhooks`): replication/events.ts and replication/webhooks.ts.
 * @module
 */
import type { FastifyInstance } from 'fastify';
import { Type, type Static } from 'typebox';
import { EVENT_TYPES, eventsOf } from '../../replication/events.js';
import { createWebhook, deliveriesOf, removeWebhook, webhooksOf } from '../../replication/webhooks.js';
import type { RegionContext } from '../../region/context.js';
import { principalOf } from '../auth.js';
import { oneOf } from '../schemas/common.js';

const Time = Type.String({
  pattern: '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d+)?Z$',
  description: 'an ISO 8601 UTC time such as 2026-12-03T18:00:00Z.',
});

const EventQuery = Type.Object({
  image_id: Type.Optional(Type.String({ maxLength: 64, description: 'a single image ID.' })),
  job_id: Type.Optional(Type.String({ maxLength: 64, description: 'a single job ID (or request ID).' })),
  request_id: Type.Optional(Type.String({ maxLength: 64, description: 'a single request ID.' })),
  type: Type.Optional(oneOf(EVENT_TYPES)),
  since: Type.Optional(Time),
  until: Type.Optional(Time),
  limit: Type.Optional(
    Type.String({ pattern: '^(1000|[1-9][0-9]{0,2})$', description: 'an integer from 1 to 1000.' }),
  ),
});
type EventQuery = Static<typeof EventQuery>;

const WebhookBody = Type.Object(
  {
    url: Type.String({
      minLength: 1,
      maxLength: 2048,
      description: 'an http(s) URL of 2048 characters at most.',
    }),
  },
  { additionalProperties: false },
);
type WebhookBody = Static<typeof WebhookBody>;

const TAGS = ['Events'];

export function registerEventRoutes(app: FastifyInstance, ctx: RegionContext): void {
  app.get<{ Querystring: EventQuery }>(
    '/v1/events',
    { schema: { summary: "Your replications' events in this region", tags: TAGS, querystring: EventQuery } },
    async (request) => {
      const q = request.query;
      const events = await eventsOf(ctx, principalOf(request), {
        imageId: q.image_id,
        jobId: q.job_id,
        requestId: q.request_id,
        type: q.type,
        since: q.since,
        until: q.until,
        limit: q.limit === undefined ? 100 : Number(q.limit),
      });
      return { events };
    },
  );

  app.post<{ Body: WebhookBody }>(
    '/v1/webhooks',
    {
      schema: {
        summary: 'Register a webhook for your events (its secret is shown once)',
        tags: TAGS,
        body: WebhookBody,
      },
    },
    async (request, reply) => {
      const hook = await createWebhook(ctx, principalOf(request), request.body.url);
      return reply
        .code(201)
        .send({ id: hook.id, url: hook.url, secret: hook.secret, created_at: hook.created_at });
    },
  );

  app.get(
    '/v1/webhooks',
    { schema: { summary: 'List your webhooks (never their secrets)', tags: TAGS } },
    async (request) => ({
      webhooks: (await webhooksOf(ctx, principalOf(request))).map((h) => ({
        id: h.id,
        url: h.url,
        created_at: h.created_at,
      })),
    }),
  );

  app.delete<{ Params: { id: string } }>(
    '/v1/webhooks/:id',
    { schema: { summary: 'Delete a webhook', tags: TAGS } },
    async (request, reply) => {
      await removeWebhook(ctx, principalOf(request), request.params.id);
      return reply.code(204).send();
    },
  );

  app.get<{ Params: { id: string } }>(
    '/v1/webhooks/:id/deliveries',
    { schema: { summary: "A webhook's deliveries: status, attempts, last answer", tags: TAGS } },
    async (request) => ({ deliveries: await deliveriesOf(ctx, principalOf(request), request.params.id) }),
  );
}
