/**
 * Baidu BCC's cross-region copy (`POST /v2/image/{id}?remoteCopy`, api/routes/bcc.ts): one image to several
 * regions, one job each, with BCC's 200 GiB cap (settings: replication.bccMaxImageBytes). BCC has no agency;
 * Ferry's rule that an agency allows each copy still holds: the request may name one (`agencyName`, Ferry's
 * extension), else each destination takes the first of the account's agencies (by name) that holds
 * CrossCopyAgencyPolicy there; a destination where none does is refused with REPLICATION_AGENCY_INVALID.
 * @module
 */
import { CROSS_COPY_POLICY } from '../domain/replication-rules.js';
import type { Principal } from '../identity/tokens.js';
import { listAgencies } from '../store/identity.js';
import { findJob } from '../store/jobs.js';
import type { RegionContext } from '../region/context.js';
import { refusalOf, startCrossRegionCopies, type Refusal } from './source-jobs.js';
import { FerryError } from '../domain/errors.js';

export interface RemoteCopyRequest {
  name?: string;
  destRegions: string[];
  agencyName?: string;
}

/** Per destination: the new image's ID, or the refusal. */
export type RemoteCopyResult = { region: string; imageId: string } | { region: string; refusal: Refusal };

export async function remoteCopy(
  ctx: RegionContext,
  principal: Principal,
  imageId: string,
  request: RemoteCopyRequest,
  requestId: string,
): Promise<RemoteCopyResult[]> {
  const agencies = (await listAgencies(ctx.db, principal.accountId)).sort((a, b) =>
    a.name < b.name ? -1 : a.name > b.name ? 1 : 0,
  );
  const agencyFor = (region: string) =>
    request.agencyName ??
    agencies.find((a) => a.policies.some((p) => p.region === region && p.policy === CROSS_COPY_POLICY))?.name;
  const results: RemoteCopyResult[] = [];
  // One region at a time: each may take another agency, and each counts the jobs the previous ones started.
  for (const region of [...new Set(request.destRegions)]) {
    const agencyName = agencyFor(region);
    if (agencyName === undefined) {
      results.push({
        region,
        refusal: refusalOf(
          imageId,
          region,
          new FerryError(
            'REPLICATION_AGENCY_INVALID',
            `None of your agencies holds ${CROSS_COPY_POLICY} in ${region}: grant that policy to one in ${region}, or name an agency.`,
          ),
        ),
      });
      continue;
    }
    const { started, refused } = await startCrossRegionCopies(
      ctx,
      principal,
      [imageId],
      [region],
      {
        name: request.name,
        agencyName,
        maxImageBytes: ctx.replication.bccMaxImageBytes,
      },
      // Each region's job is a request of its own (its own events), under the API request's ID.
      `${requestId}.${region}`,
    );
    if (started[0]) {
      const job = await findJob(ctx.db, started[0].job_id);
      results.push({ region, imageId: job?.dest_image_id ?? '' });
    } else {
      results.push({ region, refusal: refused[0]! });
    }
  }
  return results;
}
