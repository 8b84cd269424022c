/** How the console words and formats what the API returns (the product documents' status words). */
import type { Image } from './api';

export function formatBytes(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined) return '—';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(value < 10 ? 2 : 1)} ${units[unit]}`;
}

export function formatTime(iso: string | null | undefined): string {
  if (!iso) return '—';
  return iso.replace('T', ' ').replace(/\.\d+/, '').replace('Z', ' UTC');
}

export function formatDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return '—';
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

export type StatusWord =
  'Normal' | 'Creating' | 'Saving' | 'Replicating' | 'Failed' | 'Frozen' | 'Deactivated';

/** The seeds' words for an image's state: a replica arriving is Replicating, a frozen one Frozen. */
export function statusWord(image: Image): StatusWord {
  if (image.frozen) return 'Frozen';
  if (image.replication?.replicating) return 'Replicating';
  switch (image.status) {
    case 'active':
      return 'Normal';
    case 'queued':
      return 'Creating';
    case 'saving':
      return 'Saving';
    case 'deactivated':
      return 'Deactivated';
    default:
      return 'Failed';
  }
}

export const STATUS_COLOR: Record<StatusWord, string> = {
  Normal: 'green',
  Creating: 'gray',
  Saving: 'blue',
  Replicating: 'blue',
  Failed: 'red',
  Frozen: 'cyan',
  Deactivated: 'orange',
};

export function typeWord(imageType: string): string {
  switch (imageType) {
    case 'system-disk':
      return 'System disk';
    case 'data-disk':
      return 'Data disk';
    case 'full-server':
      return 'Whole-server';
    case 'iso':
      return 'ISO';
    default:
      return imageType;
  }
}

/** IMS's default name of a copy: copy_<source region>_<source name>. */
export function defaultCopyName(region: string, name: string | null): string {
  return `copy_${region}_${name ?? ''}`.slice(0, 128);
}

/**
 * Why an image cannot be replicated across regions by the viewer, or null when it can: the same rules the
 * API applies (domain/replication-rules.ts), so that the dialog names them before OK; the API still decides.
 */
export function ineligibility(
  image: Image,
  viewerProject: string,
  maxBytes: number | undefined,
): string | null {
  if (image.owner !== viewerProject || image.visibility === 'public' || image.visibility === 'community')
    return 'Not your private image: copy it into your own image first.';
  if (image.disk_format === 'iso' || image.image_type === 'iso') return 'ISO images cannot be replicated.';
  if (image.encrypted) return 'Encrypted images cannot be replicated across regions.';
  if (image.frozen) return 'Frozen: ask an administrator to unfreeze it.';
  if (image.status !== 'active')
    return `Not active (${statusWord(image)}): only active images can be replicated.`;
  if (maxBytes !== undefined && (image.size ?? 0) > maxBytes)
    return `Too large: images over ${formatBytes(maxBytes)} cannot be replicated.`;
  return null;
}
