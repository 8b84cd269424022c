// The visibility rule (domain/visibility.ts) that both the image list's SQL and a read by ID apply.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { inSets, listedSets, readableSets, type Viewer } from '../../../src/domain/visibility.js';
import type { MemberStatus } from '../../../src/domain/image.js';

const me: Viewer = { projectId: 'p-me', isAdmin: false };
const admin: Viewer = { projectId: 'p-admin', isAdmin: true };
const image = (owner: string, visibility: string) => ({ owner, visibility });

test('a project reads its own images, public and community ones, and shared ones it is a member of', () => {
  const sets = readableSets(me);
  const reads = (owner: string, visibility: string, membership?: MemberStatus) =>
    inSets(sets, image(owner, visibility), me, membership);
  for (const visibility of ['private', 'shared', 'public', 'community']) assert.ok(reads('p-me', visibility));
  assert.ok(reads('p-other', 'public'));
  assert.ok(reads('p-other', 'community'));
  assert.ok(!reads('p-other', 'private'));
  assert.ok(!reads('p-other', 'shared'));
  for (const status of ['pending', 'accepted', 'rejected'] as const)
    assert.ok(reads('p-other', 'shared', status));
  // A membership left over on an image made private again reads nothing.
  assert.ok(!reads('p-other', 'private', 'accepted'));
});

test('an administrator reads every image', () => {
  for (const visibility of ['private', 'shared', 'public', 'community']) {
    assert.ok(inSets(readableSets(admin), image('p-other', visibility), admin, undefined));
  }
});

test('the default list leaves out community images and shared ones not accepted', () => {
  const lists = (
    viewer: Viewer,
    owner: string,
    visibility: string,
    filter?: string,
    membership?: MemberStatus,
  ) => inSets(listedSets(viewer, filter), image(owner, visibility), viewer, membership);
  assert.ok(lists(me, 'p-me', 'private'));
  assert.ok(lists(me, 'p-other', 'public'));
  assert.ok(!lists(me, 'p-other', 'community'));
  assert.ok(lists(me, 'p-other', 'community', 'community'));
  assert.ok(lists(me, 'p-other', 'shared', undefined, 'accepted'));
  assert.ok(!lists(me, 'p-other', 'shared', undefined, 'pending'));
  assert.ok(!lists(me, 'p-me', 'public', 'private'));
  assert.ok(lists(me, 'p-me', 'public', 'public'));
  assert.ok(!lists(admin, 'p-other', 'community'));
  assert.ok(lists(admin, 'p-other', 'community', 'all'));
  assert.ok(lists(admin, 'p-other', 'private', 'private'));
  assert.ok(!lists(admin, 'p-other', 'public', 'private'));
});

test('member_status picks which memberships a list shows', () => {
  const sets = listedSets(me, undefined, 'pending');
  assert.ok(inSets(sets, image('p-other', 'shared'), me, 'pending'));
  assert.ok(!inSets(sets, image('p-other', 'shared'), me, 'accepted'));
  assert.ok(inSets(listedSets(me, 'shared', 'all'), image('p-other', 'shared'), me, 'rejected'));
});

test('every image a list shows can be read by ID', () => {
  const visibilities = ['private', 'shared', 'public', 'community', undefined, 'all'];
  for (const viewer of [me, admin]) {
    for (const filter of visibilities) {
      for (const memberStatus of ['pending', 'accepted', 'rejected', 'all', undefined]) {
        for (const owner of ['p-me', 'p-other', 'p-admin']) {
          for (const visibility of ['private', 'shared', 'public', 'community']) {
            for (const membership of [undefined, 'pending', 'accepted', 'rejected'] as const) {
              const candidate = image(owner, visibility);
              if (inSets(listedSets(viewer, filter, memberStatus), candidate, viewer, membership)) {
                assert.ok(inSets(readableSets(viewer), candidate, viewer, membership));
              }
            }
          }
        }
      }
    }
  }
});
