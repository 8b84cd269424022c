/**
 * Who sees which images, stated once. The rule is a list of image sets (the viewer's own images, the images
 * of some visibilities, the shared images the viewer is a member of); what a viewer sees is their union.
 * Two readers use it: the image list turns each set into one SQL branch (store/image-list.ts), and a read by
 * ID tests one image against the sets (images/access.ts).
 * @module
 */
import type { MemberStatus, Visibility } from './image.js';

/** Who is asking. */
export interface Viewer {
  projectId: string;
  isAdmin: boolean;
}

/** One set of images a viewer may see. */
export type ImageSet =
  /** Every image (an administrator). */
  | { kind: 'all'; visibilities?: readonly Visibility[] }
  /** The viewer's own images, of any visibility unless `visibilities` narrows them. */
  | { kind: 'own'; visibilities?: readonly Visibility[] }
  /** Images of these visibilities, whoever owns them. */
  | { kind: 'visibility'; visibilities: readonly Visibility[] }
  /** Shared images the viewer is a member of, with this membership status (`all`: any). */
  | { kind: 'member'; status: MemberStatus | 'all' };

/** Images anyone may read by ID: public ones, and community ones (unlisted by default, as in Glance). */
const OPEN: readonly Visibility[] = ['public', 'community'];

/**
 * The images a viewer may read by ID: an administrator all; a project its own, the public and community
 * ones, and the shared ones it is a member of, whatever its answer (Glance lets a pending member read them).
 */
export function readableSets(viewer: Viewer): ImageSet[] {
  if (viewer.isAdmin) return [{ kind: 'all' }];
  return [{ kind: 'own' }, { kind: 'visibility', visibilities: OPEN }, { kind: 'member', status: 'all' }];
}

/**
 * The images a list shows under Glance's `visibility` filter (undefined: the default list) and
 * `member_status` (default: accepted). An administrator sees every image but community ones unless asked; a
 * project its own, the public ones, and the shared ones it accepted.
 */
export function listedSets(
  viewer: Viewer,
  visibility: string | undefined,
  memberStatus?: string,
): ImageSet[] {
  if (viewer.isAdmin) {
    if (visibility === 'all') return [{ kind: 'all' }];
    if (visibility === undefined) return [{ kind: 'all', visibilities: ['private', 'shared', 'public'] }];
    return [{ kind: 'all', visibilities: [visibility as Visibility] }];
  }
  const member: ImageSet = { kind: 'member', status: (memberStatus ?? 'accepted') as MemberStatus | 'all' };
  switch (visibility) {
    case 'public':
    case 'community':
      // Whoever owns them: the viewer's own public images are listed under visibility=public too.
      return [{ kind: 'visibility', visibilities: [visibility] }];
    case 'private':
      return [{ kind: 'own', visibilities: ['private'] }];
    case 'shared':
      return [{ kind: 'own', visibilities: ['shared'] }, member];
    case 'all':
      return [{ kind: 'own' }, { kind: 'visibility', visibilities: OPEN }, member];
    default:
      return [{ kind: 'own' }, { kind: 'visibility', visibilities: ['public'] }, member];
  }
}

/**
 * Whether an image is in one of the sets; `membership` is the viewer's member status on it (undefined: not a
 * member).
 */
export function inSets(
  sets: readonly ImageSet[],
  image: { owner: string; visibility: string },
  viewer: Viewer,
  membership: MemberStatus | undefined,
): boolean {
  const visible = (visibilities?: readonly Visibility[]) =>
    visibilities === undefined || visibilities.includes(image.visibility as Visibility);
  return sets.some((set) => {
    switch (set.kind) {
      case 'all':
        return visible(set.visibilities);
      case 'own':
        return image.owner === viewer.projectId && visible(set.visibilities);
      case 'visibility':
        return visible(set.visibilities);
      case 'member':
        return (
          image.visibility === 'shared' &&
          membership !== undefined &&
          (set.status === 'all' || set.status === membership)
        );
    }
  });
}

/** Whether a set needs the viewer's membership to decide (a read by ID looks it up only then). */
export function needsMembership(sets: readonly ImageSet[]): boolean {
  return sets.some((set) => set.kind === 'member');
}
