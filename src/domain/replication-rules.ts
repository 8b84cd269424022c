/**
 * The product rules for replicating an image to another region (defaults from the product documents, all
 * configurable per deployment). Pure: the caller gathers the facts, this decides. Each refusal carries the
 * stable code (and IMS's code where IMS has one) and a message that says what to do.
 * @module
 */
import { FerryError } from './errors.js';
import { CROSS_COPY_CBR_POLICY } from './vault.js';

export interface ReplicationLimits {
  /** Largest image that may cross regions, bytes (default: 128 GiB). */
  maxImageBytes: number;
  /** Cross-region jobs one user may have running at once, counted across every region (default: 5). */
  maxRunningJobsPerUser: number;
}

export const DEFAULT_REPLICATION_LIMITS: ReplicationLimits = {
  maxImageBytes: 128 * 1024 ** 3,
  maxRunningJobsPerUser: 5,
};

/** The facts about the source image that decide whether it may be replicated. */
export interface SourceImageFacts {
  id: string;
  status: string;
  visibility: string;
  diskFormat: string | null;
  imageType: string;
  encrypted: boolean;
  frozen: boolean;
  size: number | null;
  /** The caller's project owns the image. */
  ownedByCaller: boolean;
}

/** Whether this image may be replicated by its caller at all (independent of the destination). */
export function checkImageReplicable(image: SourceImageFacts, limits: ReplicationLimits): void {
  if (!image.ownedByCaller || image.visibility === 'public' || image.visibility === 'community') {
    throw new FerryError(
      'REPLICATION_NOT_OWNER',
      `Image ${image.id} is not your private image: only the owner's private images can be replicated. Copy a shared image into your own image first.`,
    );
  }
  if (image.diskFormat === 'iso' || image.imageType === 'iso') {
    throw new FerryError(
      'REPLICATION_ISO',
      `Image ${image.id} is an ISO image: ISO images cannot be replicated.`,
    );
  }
  if (image.encrypted) {
    throw new FerryError(
      'REPLICATION_ENCRYPTED',
      `Image ${image.id} is encrypted: encrypted images cannot be replicated across regions.`,
    );
  }
  if (image.frozen) {
    throw new FerryError(
      'REPLICATION_FROZEN',
      `Image ${image.id} is frozen: ask an administrator to unfreeze it.`,
    );
  }
  if (image.status !== 'active') {
    throw new FerryError(
      'REPLICATION_IMAGE_UNAVAILABLE',
      `Image ${image.id} is ${image.status}: only active images can be replicated; wait until it is active.`,
    );
  }
  if ((image.size ?? 0) > limits.maxImageBytes) {
    throw new FerryError(
      'REPLICATION_TOO_LARGE',
      `Image ${image.id} has ${image.size} bytes; images larger than ${limits.maxImageBytes} bytes cannot be replicated across regions.`,
    );
  }
}

export interface DestinationFacts {
  sourceRegion: string;
  destRegion: string;
  /** The destination is a region of the catalog. */
  destKnown: boolean;
  /** The catalog allows source → destination. */
  pairAllowed: boolean;
}

export function checkDestination(facts: DestinationFacts): void {
  if (facts.destRegion === facts.sourceRegion) {
    throw new FerryError(
      'REPLICATION_SAME_REGION',
      `The destination region must differ from the source (${facts.sourceRegion}); use an in-region copy instead.`,
    );
  }
  if (!facts.destKnown) {
    throw new FerryError('REPLICATION_REGION_NOT_ALLOWED', `There is no region ${facts.destRegion}.`);
  }
  if (!facts.pairAllowed) {
    throw new FerryError(
      'REPLICATION_REGION_NOT_ALLOWED',
      `Replication from ${facts.sourceRegion} to ${facts.destRegion} is not offered; choose another destination.`,
    );
  }
}

/** The policy an agency needs in the destination region. */
export const CROSS_COPY_POLICY = 'CrossCopyAgencyPolicy';

/**
 * Refuses an agency that is missing or lacks `policy` in the destination region: CrossCopyAgencyPolicy for a
 * disk image, CrossCopyAgencyCBRPolicy for a whole-server image (policyFor).
 */
export function checkAgency(
  agencyName: string,
  agency: { policies: Array<{ region: string; policy: string }> } | undefined,
  destRegion: string,
  policy: string = CROSS_COPY_POLICY,
): void {
  if (!agency) {
    throw new FerryError(
      'REPLICATION_AGENCY_INVALID',
      `Your account has no agency named ${agencyName} in ${destRegion}, where the copy is made: create it there (or in every region) holding ${policy} in ${destRegion}.`,
    );
  }
  if (!agency.policies.some((p) => p.region === destRegion && p.policy === policy)) {
    throw new FerryError(
      'REPLICATION_AGENCY_INVALID',
      `Agency ${agencyName} does not hold ${policy} in ${destRegion}: grant it that policy in ${destRegion}.`,
    );
  }
}

/** The policy an agency needs in the destination to replicate an image of this type. */
export function policyFor(imageType: string): string {
  return imageType === 'full-server' ? CROSS_COPY_CBR_POLICY : CROSS_COPY_POLICY;
}

export function checkRunningJobs(running: number, limits: ReplicationLimits): void {
  if (running >= limits.maxRunningJobsPerUser) {
    throw new FerryError(
      'REPLICATION_LIMIT_REACHED',
      `You already have ${running} cross-region replications running across all regions, the most allowed at a time (${limits.maxRunningJobsPerUser}); retry when one has finished.`,
    );
  }
}

/** Longest name a copy or replica may be given (IMS: 1 to 128 characters). */
export const MAX_COPY_NAME_LENGTH = 128;

/**
 * The destination image's name when the caller gives none: copy_<source-region>_<source-name>, cut to the
 * 128 characters a name given in the request may have.
 */
export function defaultCopyName(sourceRegion: string, sourceName: string | null): string {
  return prefixedCopyName(`copy_${sourceRegion}_`, sourceName);
}

/** A replica's name as `prefix` + its source's name (the multi-image call's `name_prefix`), cut likewise. */
export function prefixedCopyName(prefix: string, sourceName: string | null): string {
  return `${prefix}${sourceName ?? ''}`.slice(0, MAX_COPY_NAME_LENGTH);
}
