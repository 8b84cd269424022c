/**
 * How commands print their results: a table for people (the default), the API's JSON for scripts
 * (`--output json`, stable fields listed in docs/cli.md), or only the IDs (`--quiet`, one a line). Results go
 * to stdout; notes, warnings and progress go to stderr, so a pipe gets only the result.
 * @module
 */

export type OutputFormat = 'table' | 'json';

export interface Column<T> {
  header: string;
  value: (row: T) => unknown;
  /** Numbers read better right-aligned. */
  align?: 'right';
}

export interface ListOptions<T> {
  columns: Array<Column<T>>;
  /** What `--quiet` prints for a row. */
  id: (row: T) => string;
  /** The row as JSON (default: the row itself). */
  json?: (row: T) => unknown;
  /** The table-mode line for no rows (default: nothing). */
  empty?: string;
}

export interface Printer {
  readonly format: OutputFormat;
  readonly quiet: boolean;
  /** A list: a table, a JSON array, or one ID a line. */
  list<T>(rows: readonly T[], options: ListOptions<T>): void;
  /** One object: a Field/Value table (only `fields`, if given), the object as JSON, or its ID. */
  record(object: Record<string, unknown>, options?: { id?: string; fields?: readonly string[] }): void;
  /** The general case: `json` as JSON, `ids` when quiet, `human()` otherwise. */
  emit(result: { json: unknown; ids: readonly string[]; human: () => string }): void;
  /** A sentence for people on stdout (table mode only). */
  note(text: string): void;
  /** A warning on stderr, in every mode. */
  warn(text: string): void;
}

const ESCAPES: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/**
 * `text` with its control characters (C0, DEL, C1) written as escapes (`\n`, `\x1b`, `\u009b`): a name
 * another account chose (an image shared with you) must not move the cursor, recolour or clear the
 * terminal, or forge a line of the table. `keepLineBreaks` for text whose lines Ferry wrote itself.
 */
export function printable(text: string, keepLineBreaks = false): string {
  return text.replace(/\p{Cc}/gu, (c) => {
    if (keepLineBreaks && c === '\n') return c;
    const code = c.codePointAt(0)!;
    return (
      ESCAPES[c] ?? (code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16)}`)
    );
  });
}

/** A cell's text: empty for null, JSON for objects and lists; control characters escaped. */
export function cellText(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'object')
    return Array.isArray(value) ? value.map(cellText).join(', ') : JSON.stringify(value);
  return printable(String(value));
}

/** Columns aligned with two spaces between them, a header line first; no trailing spaces. */
export function renderTable(
  headers: readonly string[],
  rows: readonly string[][],
  right: readonly boolean[] = [],
): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, i) => (right[i] ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}

export function createPrinter(options: {
  format: OutputFormat;
  quiet: boolean;
  stdout?: NodeJS.WritableStream;
  stderr?: NodeJS.WritableStream;
}): Printer {
  const stdout = options.stdout ?? process.stdout;
  const stderr = options.stderr ?? process.stderr;
  const write = (text: string) => void stdout.write(text.endsWith('\n') ? text : `${text}\n`);

  const printer: Printer = {
    format: options.format,
    quiet: options.quiet,
    emit({ json, ids, human }) {
      if (options.format === 'json') write(JSON.stringify(json, null, 2));
      else if (options.quiet) {
        if (ids.length > 0) write(ids.join('\n'));
      } else {
        const text = printable(human(), true);
        if (text !== '') write(text);
      }
    },
    list(rows, list) {
      printer.emit({
        json: rows.map((row) => (list.json ? list.json(row) : row)),
        ids: rows.map(list.id),
        human: () =>
          rows.length === 0
            ? (list.empty ?? '')
            : renderTable(
                list.columns.map((c) => c.header),
                rows.map((row) => list.columns.map((c) => cellText(c.value(row)))),
                list.columns.map((c) => c.align === 'right'),
              ),
      });
    },
    record(object, record = {}) {
      const fields = record.fields ?? Object.keys(object);
      printer.emit({
        json: object,
        ids: record.id !== undefined ? [record.id] : [],
        human: () =>
          renderTable(
            ['Field', 'Value'],
            fields.map((f) => [printable(f), cellText(object[f])]),
          ),
      });
    },
    note(text) {
      if (options.format === 'table' && !options.quiet) write(text);
    },
    warn(text) {
      stderr.write(`ferry: ${text}\n`);
    },
  };
  return printer;
}
