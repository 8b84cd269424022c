#!/usr/bin/env node
/**
 * The `ferry` command: parses the arguments, runs the command, and turns every failure into one stderr line
 * (a JSON error object with `--output json`) and the exit code `errors.ts` documents.
 * @module
 */
import { CommanderError } from 'commander';
import { coerceCliError, describeError, EXIT_CODES, ApiError } from './errors.js';
import { createProgram } from './program.js';

function errorJson(error: ReturnType<typeof coerceCliError>): string {
  const body =
    error instanceof ApiError
      ? { ...error.body, status: error.status }
      : { code: error.kind, message: error.message };
  return JSON.stringify({ error: body, exit_code: error.exitCode });
}

// A reader that went away (`ferry image list | head`) is not an error.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(EXIT_CODES.OK);
  throw error;
});

const program = createProgram();
try {
  await program.parseAsync(process.argv);
} catch (caught) {
  if (caught instanceof CommanderError) {
    // Commander has printed its message (or the help) already.
    process.exit(caught.exitCode === 0 ? EXIT_CODES.OK : EXIT_CODES.USAGE);
  }
  const error = coerceCliError(caught);
  const json = error.format === 'json' || (error.format === undefined && program.opts().output === 'json');
  process.stderr.write(json ? `${errorJson(error)}\n` : `ferry: ${describeError(error)}\n`);
  process.exit(error.exitCode);
}
