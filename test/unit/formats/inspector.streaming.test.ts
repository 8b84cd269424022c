/**
 * Streaming behaviour: bounded memory, constant work per piece past the head, early problems before the
 * stream ends, and the inspector's life cycle.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createFormatInspector } from '../../../src/formats/inspector.js';
import { CAPTURE_BUDGET_BYTES, HEAD_BYTES, TAIL_BYTES } from '../../../src/formats/probe.js';

const MIB = 1024 * 1024;
const GIB = 1024 * MIB;
const MAX_RETAINED = HEAD_BYTES + CAPTURE_BUDGET_BYTES + TAIL_BYTES;

test('256 GiB stream through with bounded memory and constant work per 1 MiB piece', () => {
  const piece = Buffer.alloc(MIB, 0x11);
  const inspector = createFormatInspector();
  const started = performance.now();
  for (let i = 0; i < (256 * GIB) / MIB; i++) inspector.update(piece);
  const elapsed = performance.now() - started;
  assert.deepEqual(inspector.finish(), { format: 'raw', virtualSize: 256 * GIB, problems: [] });
  assert.ok(inspector.retainedBytes <= HEAD_BYTES + TAIL_BYTES, `kept ${inspector.retainedBytes} bytes`);
  // Copying every piece once would move 256 GiB (seconds even at 50 GB/s); the inspector copies 1.5 KiB.
  assert.ok(elapsed < 2000, `256 GiB took ${elapsed.toFixed(0)} ms`);
});

test('a qcow2 backing file is reported as soon as the head is in, long before the end', () => {
  const header = Buffer.alloc(MIB);
  header.writeUInt32BE(0x514649fb, 0);
  header.writeUInt32BE(2, 4);
  header.writeBigUInt64BE(512n, 8); // backing_file_offset
  header.writeUInt32BE(11, 16); // backing_file_size
  header.writeUInt32BE(16, 20);
  header.writeBigUInt64BE(BigInt(8 * GIB), 24);
  header.write('/etc/passwd', 512, 'latin1');
  const inspector = createFormatInspector();
  inspector.update(header.subarray(0, MIB - 1));
  assert.deepEqual(inspector.earlyProblems(), [], 'not judged before the head is complete');
  inspector.update(header.subarray(MIB - 1));
  assert.match(inspector.earlyProblems().join('\n'), /backing file "\/etc\/passwd"/);
  const zeros = Buffer.alloc(MIB);
  for (let i = 0; i < 1024; i++) inspector.update(zeros);
  const result = inspector.finish();
  assert.equal(result.virtualSize, 8 * GIB);
  assert.match(result.problems.join('\n'), /backing file/);
  assert.ok(inspector.retainedBytes <= MAX_RETAINED);
});

test('finish() is idempotent and update() after it throws', () => {
  const inspector = createFormatInspector();
  inspector.update(Buffer.from('hello'));
  const first = inspector.finish();
  assert.equal(inspector.finish(), first);
  assert.throws(() => inspector.update(Buffer.from('more')), /after finish/);
});
