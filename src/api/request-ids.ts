/**
 * Request IDs: Glance's form (`req-<uuid>`), answered in `x-openstack-request-id` and bound to every log line
 * of the request. A region-to-region call made for a user's request (a replication's reads, state reports,
 * cancels) carries that request's ID in REQUEST_ID_HEADER, and the region that receives it logs the call under
 * the same ID: one ID then finds a replication's lines in the logs of every region and process it touched.
 * @module
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { REQUEST_ID_HEADER } from '../replication/region-call.js';

/** An ID this service made: `req-<uuid>`, or `req-<uuid>.<region>` for one region's part of a request. */
const REQUEST_ID = /^req-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}(\.[a-z0-9-]{1,40})?$/;

/**
 * The ID of an arriving request: the one it carries if it is a region-to-region call that names a request ID
 * of Ferry's form, else a new one. Only the form is checked (the credential is checked later, by the route):
 * the worst a forged header does is put a request's log lines under an ID of the sender's choosing.
 */
export function requestIdOf(raw: IncomingMessage): string {
  const carried = raw.headers[REQUEST_ID_HEADER];
  if (typeof carried === 'string' && raw.url?.startsWith('/internal/') && REQUEST_ID.test(carried)) {
    return carried;
  }
  return `req-${randomUUID()}`;
}
