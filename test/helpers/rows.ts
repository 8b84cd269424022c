/**
 * Rows for the store's tests: a fixed clock, two accounts with a user and a project each in north-1 (alpha,
 * beta), and image rows numbered by id.
 * @module
 */
import type { Clock } from '../../src/store/clock.js';
import type { Db } from '../../src/store/db.js';
import { insertAccount, insertProject, insertUser } from '../../src/store/identity.js';
import { newImageRow, type ImageRow } from '../../src/store/images.js';

export function fixedClock(
  start = Date.parse('2026-01-01T00:00:00Z'),
): Clock & { advance(ms: number): void } {
  let now = start;
  return { now: () => new Date(now), advance: (ms) => (now += ms) };
}

export async function seed(db: Db, clock: Clock) {
  await insertAccount(db, clock, { id: 'a'.repeat(32), name: 'alpha' });
  await insertAccount(db, clock, { id: 'b'.repeat(32), name: 'beta' });
  await insertUser(db, clock, {
    id: 'u'.repeat(32),
    account_id: 'a'.repeat(32),
    name: 'ann',
    is_admin: false,
  });
  await insertUser(db, clock, {
    id: 'v'.repeat(32),
    account_id: 'b'.repeat(32),
    name: 'bob',
    is_admin: false,
  });
  await insertProject(db, clock, {
    id: 'p'.repeat(32),
    account_id: 'a'.repeat(32),
    region: 'north-1',
    name: 'north-1',
  });
  await insertProject(db, clock, {
    id: 'q'.repeat(32),
    account_id: 'b'.repeat(32),
    region: 'north-1',
    name: 'north-1',
  });
}

export function imageRow(id: number, overrides: Partial<ImageRow>): ImageRow {
  const stamp = new Date(Date.parse('2026-01-01T00:00:00Z') + id * 1000).toISOString();
  return newImageRow(
    {
      id: `00000000-0000-4000-8000-${String(id).padStart(12, '0')}`,
      owner: 'p'.repeat(32),
      name: `img-${id}`,
      status: 'active',
      visibility: 'private',
      disk_format: 'qcow2',
      container_format: 'bare',
      size: id * 100,
      image_type: 'system-disk',
      ...overrides,
    },
    stamp,
  );
}

export const alpha = { projectId: 'p'.repeat(32), isAdmin: false };
export const beta = { projectId: 'q'.repeat(32), isAdmin: false };
