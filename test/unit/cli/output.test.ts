// Issue 20, row 6: what the CLI prints for people never carries a control character it was given: a name
// with an escape sequence or a line break (an image another account shared) is printed escaped.
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { createPrinter, printable } from '../../../src/cli/output.js';

function capture() {
  const stdout = new PassThrough();
  let text = '';
  stdout.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
  return { stdout, text: () => text };
}

const HOSTILE = 'a\u001b[31mred\r\nX: 1\u009b\u0007';

test('table, record and free text escape control characters; JSON keeps the value', () => {
  const out = capture();
  const printer = createPrinter({ format: 'table', quiet: false, stdout: out.stdout });
  printer.list([{ id: 'i-1', name: HOSTILE }], {
    columns: [
      { header: 'ID', value: (r) => r.id },
      { header: 'Name', value: (r) => r.name },
    ],
    id: (r) => r.id,
  });
  printer.record({ name: HOSTILE, [`key${HOSTILE}`]: 'v' });
  printer.emit({ json: {}, ids: [], human: () => `line one ${HOSTILE}\nline two` });
  const text = out.text();
  assert.doesNotMatch(text, /\p{Cc}(?<!\n)/u, 'no control character but the line breaks Ferry wrote');
  assert.match(text, /a\\x1b\[31mred\\r\\nX: 1\\x9b\\x07/);
  assert.equal(text.split('\n').filter((line) => line.startsWith('line ')).length, 2);

  const json = capture();
  createPrinter({ format: 'json', quiet: false, stdout: json.stdout }).record({ name: HOSTILE });
  assert.equal(JSON.parse(json.text()).name, HOSTILE, 'scripts get the value as it is');
});

test('printable leaves ordinary text alone', () => {
  assert.equal(printable('Ubuntu 24.04 — golden ✓'), 'Ubuntu 24.04 — golden ✓');
  assert.equal(printable('two\nlines', true), 'two\nlines');
  assert.equal(printable('two\nlines'), 'two\\nlines');
});
