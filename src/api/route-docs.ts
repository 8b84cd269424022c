/**
 * The summary and tag of each public route in the OpenAPI document (api/openapi.ts), where the route's own
 * schema gives none. One table, so the API reads as a whole; `test/e2e/openapi.test.ts` fails for a route
 * that has neither.
 * @module
 */
import { Type, type TSchema } from 'typebox';
import { ImageView, MemberView } from './schemas/image.js';
import { JobView } from './schemas/job.js';
import { RemoteCopyAnswer } from './schemas/bcc.js';
import { LimitsView } from './schemas/limits.js';
import { RegionList } from './schemas/region.js';
import { LIST_QUERY_NAMES } from './image-list-query.js';

const GLANCE = 'Images (Glance v2)';
const DATA = 'Image data (Glance v2)';
const MEMBERS = 'Image members (Glance v2)';
const DISCOVERY = 'Discovery';
const IDENTITY = 'Identity';
const ADMIN = 'Administration';

export const ROUTE_DOCS: Record<string, { summary: string; tag: string }> = {
  'GET /': { summary: 'API versions (300 Multiple Choices, as Glance answers)', tag: DISCOVERY },
  'GET /versions': { summary: 'API versions', tag: DISCOVERY },
  'GET /v2': { summary: 'API versions', tag: DISCOVERY },
  'GET /v2/': { summary: 'API versions', tag: DISCOVERY },
  'GET /v2/schemas/image': { summary: "The image's JSON schema (Glance)", tag: DISCOVERY },
  'GET /v2/schemas/images': { summary: "The image list's JSON schema (Glance)", tag: DISCOVERY },
  'GET /v2/schemas/member': { summary: "The member's JSON schema (Glance)", tag: DISCOVERY },
  'GET /v2/schemas/members': { summary: "The member list's JSON schema (Glance)", tag: DISCOVERY },
  'GET /v2/info/import': { summary: 'Import methods (Glance): only the upload', tag: DISCOVERY },
  'GET /v1/regions': {
    summary: 'The regions of the catalog, each with the regions it may replicate into',
    tag: DISCOVERY,
  },
  'GET /healthz': { summary: 'The process answers', tag: DISCOVERY },
  'POST /v2/image/:id': {
    summary:
      'BCC-shaped replication: ?remoteCopy {name, destRegion[]} or ?cancelRemoteCopy (destination image)',
    tag: 'Replication (BCC)',
  },
  'GET /v1/limits': {
    summary: 'The limits you meet in this region (sizes, running replications, members)',
    tag: DISCOVERY,
  },
  'GET /v1/cloudimages/:id/disks/:index/file': {
    summary: 'Download one disk of a whole-server image, whole or a Range',
    tag: 'Vaults and whole-server images',
  },
  'GET /readyz': {
    summary: 'The region can serve: its database and its blob store answer',
    tag: DISCOVERY,
  },
  'GET /metrics': {
    summary: 'The region process’s figures in Prometheus text format (an administrator’s token)',
    tag: DISCOVERY,
  },

  'POST /v2/images': { summary: 'Create an image record (queued, no data yet)', tag: GLANCE },
  'GET /v2/images': { summary: 'List the images you may see, filtered, sorted and paged', tag: GLANCE },
  'GET /v2/images/:id': { summary: 'Show an image', tag: GLANCE },
  'PATCH /v2/images/:id': { summary: "Change an image's properties (JSON patch)", tag: GLANCE },
  'DELETE /v2/images/:id': { summary: 'Delete an image', tag: GLANCE },
  'PUT /v2/images/:id/tags/:tag': { summary: 'Add a tag', tag: GLANCE },
  'DELETE /v2/images/:id/tags/:tag': { summary: 'Remove a tag', tag: GLANCE },
  'POST /v2/images/:id/actions/deactivate': {
    summary: 'Deactivate an image (its data is no longer read)',
    tag: GLANCE,
  },
  'POST /v2/images/:id/actions/reactivate': { summary: 'Reactivate an image', tag: GLANCE },
  'POST /v2/images/:id/actions/freeze': { summary: 'Freeze an image (administrators)', tag: GLANCE },
  'POST /v2/images/:id/actions/unfreeze': { summary: 'Unfreeze an image (administrators)', tag: GLANCE },

  'PUT /v2/images/:id/file': { summary: "Upload the image's data (application/octet-stream)", tag: DATA },
  'GET /v2/images/:id/file': { summary: "Download the image's data, whole or a Range", tag: DATA },

  'POST /v2/images/:id/members': { summary: 'Share an image with a project', tag: MEMBERS },
  'GET /v2/images/:id/members': { summary: "List an image's members", tag: MEMBERS },
  'GET /v2/images/:id/members/:member': { summary: 'Show a member', tag: MEMBERS },
  'PUT /v2/images/:id/members/:member': {
    summary: 'Accept or reject a shared image (its member)',
    tag: MEMBERS,
  },
  'DELETE /v2/images/:id/members/:member': { summary: 'Stop sharing an image with a project', tag: MEMBERS },

  'GET /v1/auth/whoami': { summary: 'Who the token is: user, account, project, region', tag: IDENTITY },
  'GET /v1/projects': { summary: "Your account's projects in this region", tag: IDENTITY },
  'POST /v1/tokens': { summary: 'Issue a token (shown once; works where the caller works)', tag: IDENTITY },
  'GET /v1/tokens': { summary: 'List your tokens (never their secrets)', tag: IDENTITY },
  'DELETE /v1/tokens/:id': {
    summary: 'Revoke a token in every region, and the tokens made with it',
    tag: IDENTITY,
  },
  'GET /v1/agencies': { summary: "List your account's agencies", tag: IDENTITY },
  'POST /v1/agencies': { summary: 'Create an agency with per-region policies', tag: IDENTITY },
  'GET /v1/agencies/:name': { summary: 'Show an agency', tag: IDENTITY },
  'DELETE /v1/agencies/:name': { summary: 'Delete an agency', tag: IDENTITY },

  'GET /v1/admin/accounts': { summary: 'List accounts', tag: ADMIN },
  'POST /v1/admin/accounts': { summary: 'Create an account', tag: ADMIN },
  'GET /v1/admin/accounts/:id': { summary: 'Show an account with its users and projects', tag: ADMIN },
  'POST /v1/admin/accounts/:id/users': { summary: 'Create a user in an account', tag: ADMIN },
  'POST /v1/admin/accounts/:id/projects': { summary: 'Create a project in this region', tag: ADMIN },
  'POST /v1/admin/users/:id/tokens': { summary: 'Issue a token for a user', tag: ADMIN },
  'GET /v1/admin/users/:id/tokens': {
    summary: "List a user's tokens here, and the changes other regions have not acknowledged yet",
    tag: ADMIN,
  },
  'DELETE /v1/admin/users/:id/tokens/:token': {
    summary: "Revoke a user's token in every region, and the tokens made with it",
    tag: ADMIN,
  },
  'DELETE /v1/admin/users/:id/tokens': {
    summary: 'Revoke every token issued to a user so far, in every region',
    tag: ADMIN,
  },
  'PATCH /v1/admin/users/:id': {
    summary: 'Disable a user (its tokens are revoked and refused) or enable it, in every region',
    tag: ADMIN,
  },
  'POST /v1/admin/gc': { summary: "Collect the chunk store's garbage now", tag: ADMIN },
  'POST /v1/admin/scrub': { summary: 'Re-verify every stored chunk now', tag: ADMIN },
  'GET /v1/admin/runtime': { summary: "This region process's memory and event-loop delay", tag: ADMIN },
  'POST /v1/admin/runtime/reset': { summary: 'End the event-loop window (answers its figures)', tag: ADMIN },
};

const ImageList = Type.Object({
  images: Type.Array(ImageView),
  first: Type.String(),
  next: Type.Optional(Type.String({ description: 'the next page, while a page is full' })),
  schema: Type.String(),
});
const MemberList = Type.Object({ members: Type.Array(MemberView), schema: Type.String() });
const JobList = Type.Object({
  jobs: Type.Array(JobView),
  next: Type.Optional(Type.String({ description: 'the next page, while a page is full' })),
});

/**
 * The success answers of the routes whose bodies have a wire type (api/schemas/), for the document only:
 * the routes do not serialise through them (a Glance image carries free-form properties beside its fields).
 */
export const ROUTE_RESPONSES: Record<string, Record<number, TSchema>> = {
  'POST /v2/images': { 201: ImageView },
  'POST /v1/cloudimages/wholeimages': { 201: ImageView },
  'GET /v2/images': { 200: ImageList },
  'GET /v2/images/:id': { 200: ImageView },
  'PATCH /v2/images/:id': { 200: ImageView },
  'POST /v2/images/:id/members': { 200: MemberView },
  'GET /v2/images/:id/members': { 200: MemberList },
  'GET /v2/images/:id/members/:member': { 200: MemberView },
  'PUT /v2/images/:id/members/:member': { 200: MemberView },
  'GET /v1/cloudimages/job/:job': { 200: JobView },
  'GET /v1/cloudimages/jobs': { 200: JobList },
  'GET /v1/regions': { 200: RegionList },
  'GET /v1/limits': { 200: LimitsView },
  'POST /v2/image/:id': { 200: RemoteCopyAnswer },
  'POST /v1/cloudimages/job/:job/cancel': { 200: JobView },
};

/** Optional string parameters, and others allowed (a Glance list filters on any property by its name). */
function openQuery(names: Iterable<string>): TSchema {
  return Type.Object(Object.fromEntries([...names].map((name) => [name, Type.Optional(Type.String())])), {
    additionalProperties: true,
  });
}

/**
 * The query parameters of the routes that read them by hand rather than through a schema, for the document
 * only (and so for the route fuzzing, which draws query names from it).
 */
export const ROUTE_QUERIES: Record<string, TSchema> = {
  'GET /v2/images': openQuery(LIST_QUERY_NAMES),
  'POST /v2/image/:id': openQuery(['remoteCopy', 'cancelRemoteCopy']),
};
