/**
 * Errors as IMS clients read them, on the IMS-shaped routes (`/v1/cloudimages/...`): IMS's code (`IMG.0142`)
 * in `error.code` wherever IMS has one, and Ferry's symbolic code in `error.ferry_code` always; elsewhere
 * Ferry's shape, with IMS's code beside it as `ims_code` (docs/errors.md shows both).
 * @module
 */
import { imsCodeOf, type ErrorCode } from '../domain/errors.js';

/** The routes whose errors take IMS's shape. */
export function isImsRoute(url: string | undefined): boolean {
  return url !== undefined && url.startsWith('/v1/cloudimages');
}

/** An error entry (`{code, message, ims_code?, ...}`, Ferry's shape) in IMS's shape. */
export function imsShaped<T extends { code: string; ims_code?: string }>(
  error: T,
): Omit<T, 'ims_code'> & { ferry_code: string } {
  const { ims_code: ims, ...rest } = error;
  return { ...rest, code: ims ?? imsCodeOf(error.code as ErrorCode) ?? error.code, ferry_code: error.code };
}

/** A list of refusals (`{image_id, region, error}`) with each error in IMS's shape. */
export function imsShapedRefusals<R extends { error: { code: string; ims_code?: string } }>(
  refused: readonly R[],
) {
  return refused.map((r) => ({ ...r, error: imsShaped(r.error) }));
}
