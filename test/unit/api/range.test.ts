// Range headers of image downloads (RFC 9110): the three one-range forms, what is unsatisfiable (416), and
// what is served whole instead (several ranges, malformed headers, a backwards range).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseRange } from '../../../src/api/range.js';

test('one range in each form, clamped to the image', () => {
  assert.deepEqual(parseRange('bytes=0-99', 1000), { start: 0, end: 99 });
  assert.deepEqual(parseRange('bytes=900-', 1000), { start: 900, end: 999 });
  assert.deepEqual(parseRange('bytes=-100', 1000), { start: 900, end: 999 });
  assert.deepEqual(parseRange('bytes=990-5000', 1000), { start: 990, end: 999 });
  assert.deepEqual(parseRange('bytes=-5000', 1000), { start: 0, end: 999 });
  assert.deepEqual(parseRange(' bytes=1-1 ', 1000), { start: 1, end: 1 });
});

test('a range that starts past the end, or asks for no bytes, is unsatisfiable', () => {
  assert.equal(parseRange('bytes=1000-', 1000), 'unsatisfiable');
  assert.equal(parseRange('bytes=-0', 1000), 'unsatisfiable');
  assert.equal(parseRange('bytes=0-', 0), 'unsatisfiable');
});

test('no header, several ranges, other units, nonsense and a backwards range are served whole', () => {
  for (const header of [undefined, 'bytes=0-1,5-6', 'items=0-1', 'bytes=a-b', 'bytes=-', 'bytes=9-3']) {
    assert.equal(parseRange(header, 1000), undefined, String(header));
  }
});
