/**
 * Request media types: what a route accepts and how a Content-Type header is read (RFC 9110: the type is
 * case-insensitive and may carry parameters such as `; charset=…`).
 * @module
 */

/** Glance's JSON-patch media types for PATCH /v2/images/{id}. */
export const JSON_PATCH_MEDIA_TYPES = [
  'application/openstack-images-v2.1-json-patch',
  'application/openstack-images-v2.0-json-patch',
] as const;

/** Image data, for PUT /v2/images/{id}/file. */
export const IMAGE_DATA_MEDIA_TYPE = 'application/octet-stream';

/** The media type of a Content-Type header, lower-cased and without parameters; undefined if absent. */
export function mediaTypeOf(contentType: string | undefined): string | undefined {
  return contentType?.split(';')[0]?.trim().toLowerCase();
}
