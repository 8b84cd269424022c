/**
 * The inspector's bounded memory: head, capture regions and tail ring return exactly the stream's bytes,
 * whatever the piece sizes, and never keep more than their budget.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { CAPTURE_BUDGET_BYTES, HEAD_BYTES, TAIL_BYTES } from '../../../src/formats/probe.js';
import { createStreamWindow, type StreamWindow } from '../../../src/formats/stream-window.js';

const MIB = 1024 * 1024;

function feed(window: StreamWindow, data: Buffer, pieceSize: number): boolean[] {
  const events: boolean[] = [];
  for (let at = 0; at < data.length; at += pieceSize)
    events.push(window.append(data.subarray(at, at + pieceSize)));
  return events;
}

test('the tail ring holds the last bytes whatever the piece sizes', () => {
  const data = randomBytes(3 * MIB + 12345);
  for (const pieceSize of [1, 100, TAIL_BYTES - 1, TAIL_BYTES, TAIL_BYTES + 1, 7919, MIB]) {
    const window = createStreamWindow();
    // One-byte pieces over 3 MiB are slow; feed the bulk in big pieces and only the end in small ones.
    const split = data.length - 4 * TAIL_BYTES;
    feed(window, data.subarray(0, split), MIB);
    feed(window, data.subarray(split), pieceSize);
    assert.equal(window.bytes(data.length - 512, 512), undefined, 'the tail is only readable once ended');
    window.end();
    assert.deepEqual(
      window.bytes(data.length - TAIL_BYTES, TAIL_BYTES),
      data.subarray(-TAIL_BYTES),
      `${pieceSize}`,
    );
    assert.deepEqual(window.bytes(data.length - 512, 512), data.subarray(-512), `${pieceSize}`);
    assert.equal(window.bytes(data.length - TAIL_BYTES - 1, 2), undefined, 'nothing before the tail');
    assert.equal(window.bytes(data.length - 1, 2), undefined, 'nothing after the end');
  }
});

test('a stream shorter than the tail is readable in full from the tail', () => {
  const window = createStreamWindow();
  const data = randomBytes(700);
  feed(window, data, 7);
  window.end();
  assert.deepEqual(window.bytes(0, 700), data);
});

test('the head is kept and its completion is reported once', () => {
  const window = createStreamWindow();
  const data = randomBytes(2 * MIB);
  const events = feed(window, data, 7919);
  assert.equal(events.filter(Boolean).length, 1);
  assert.equal(events.indexOf(true), Math.floor(HEAD_BYTES / 7919));
  assert.deepEqual(window.bytes(HEAD_BYTES - 10, 10), data.subarray(HEAD_BYTES - 10, HEAD_BYTES));
  assert.equal(window.bytes(HEAD_BYTES - 10, 11), undefined, 'nothing past the head unless captured');
});

test('a region ahead is captured as it streams by, even from the piece that asked for it', () => {
  const data = randomBytes(4 * MIB);
  const window = createStreamWindow();
  feed(window, data.subarray(0, HEAD_BYTES), MIB);
  assert.equal(window.capture({ offset: 2 * MIB + 5, length: 70000 }, undefined, 0), true);
  assert.equal(window.capture({ offset: 2 * MIB + 5, length: 70000 }, undefined, 0), false, 'asked twice');
  const events = feed(window, data.subarray(HEAD_BYTES), 7919);
  assert.equal(events.filter(Boolean).length, 1, 'its completion is reported');
  assert.deepEqual(window.bytes(2 * MIB + 5, 70000), data.subarray(2 * MIB + 5, 2 * MIB + 5 + 70000));
  assert.deepEqual(window.bytes(2 * MIB + 100, 10), data.subarray(2 * MIB + 100, 2 * MIB + 110));

  // A range inside the latest piece is filled from that piece.
  const piece = data.subarray(3 * MIB, 4 * MIB);
  const late = createStreamWindow();
  feed(late, data.subarray(0, 3 * MIB), MIB);
  late.append(piece);
  assert.equal(late.capture({ offset: 3 * MIB + 10, length: 100 }, piece, 3 * MIB), true);
  assert.deepEqual(late.bytes(3 * MIB + 10, 100), data.subarray(3 * MIB + 10, 3 * MIB + 110));
});

test('a region spanning the head and the bytes ahead is stitched together', () => {
  const data = randomBytes(2 * MIB);
  const window = createStreamWindow();
  feed(window, data.subarray(0, HEAD_BYTES), MIB);
  assert.equal(window.capture({ offset: HEAD_BYTES - 100, length: 200 }, undefined, 0), true);
  feed(window, data.subarray(HEAD_BYTES), 7);
  assert.deepEqual(window.bytes(HEAD_BYTES - 100, 200), data.subarray(HEAD_BYTES - 100, HEAD_BYTES + 100));
});

test('a region already streamed past (outside the head) cannot be captured', () => {
  const data = randomBytes(3 * MIB);
  const window = createStreamWindow();
  feed(window, data, MIB);
  assert.equal(window.capture({ offset: 2 * MIB - 10, length: 20 }, undefined, 0), false);
  assert.equal(window.bytes(2 * MIB - 10, 20), undefined);
});

test('captures beyond the budget are refused', () => {
  const window = createStreamWindow();
  window.append(Buffer.alloc(HEAD_BYTES));
  assert.equal(window.capture({ offset: 2 * MIB, length: CAPTURE_BUDGET_BYTES }, undefined, 0), true);
  assert.equal(window.capture({ offset: 10 * MIB, length: 1 }, undefined, 0), false);
  assert.ok(window.retainedBytes <= HEAD_BYTES + CAPTURE_BUDGET_BYTES + TAIL_BYTES);
});
