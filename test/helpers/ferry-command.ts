/**
 * How tests start the `ferry` command as a separate process: the built JavaScript (`npm run build`, which
 * `npm test` runs first), so a child's pid and memory are the server's own, without a TypeScript loader.
 * @module
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const FERRY_MAIN = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

/** Arguments for `process.execPath` that run `ferry <args>`, as a deployed Ferry runs. */
export function ferryArgs(...args: string[]): string[] {
  if (!existsSync(FERRY_MAIN)) throw new Error(`${FERRY_MAIN} is missing: run npm run build first`);
  return [FERRY_MAIN, ...args];
}
