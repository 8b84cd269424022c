/**
 * Hooks that routes share: the administrator check made before the body is read, and an absent body taken
 * as an empty object by routes whose fields are all optional.
 * @module
 */
import type { FastifyRequest } from 'fastify';
import { requireAdmin } from './auth.js';

/** Checked before the body, so that anyone else learns only that the call is not theirs. */
export async function adminOnly(request: FastifyRequest): Promise<void> {
  requireAdmin(request);
}

/** An empty body is an empty object to these calls (they take only optional fields, or refuse what is missing). */
export async function bodyOrEmpty(request: FastifyRequest): Promise<void> {
  request.body ??= {};
}
