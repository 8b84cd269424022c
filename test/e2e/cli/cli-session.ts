/**
 * Runs the built `ferry` command against a test deployment the way a user would: a private configuration
 * folder (`XDG_CONFIG_HOME`), a catalog file with the regions' real ports, a profile written by
 * `ferry configure`; commands run piped, or under a pseudo-terminal (`script` from util-linux).
 * @module
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import type { TestDeployment } from '../../helpers/deployment.js';
import { ferryArgs } from '../../helpers/ferry-command.js';
import { makeTempDir } from '../../helpers/tmp.js';

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface CliSession {
  dir: string;
  env: NodeJS.ProcessEnv;
  /** Runs `ferry args...` with stdin, stdout and stderr piped; resolves when it exits. */
  run(args: string[], options?: { env?: NodeJS.ProcessEnv }): Promise<RunResult>;
  /** Starts `ferry args...` piped; the caller reads and ends it. */
  start(args: string[], options?: { env?: NodeJS.ProcessEnv }): ChildProcessWithoutNullStreams;
  /** Starts `ferry args...` under a pseudo-terminal 120 columns wide; its stdout is the terminal's output. */
  startInTerminal(args: string[]): ChildProcessWithoutNullStreams;
}

/** Collects a child's output and its exit code. */
export function finished(child: ChildProcessWithoutNullStreams): Promise<RunResult> {
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Resolves once `child`'s stdout has shown text matching `pattern` (or rejects after `timeoutMs`). */
export function waitForOutput(
  child: ChildProcessWithoutNullStreams,
  pattern: RegExp,
  timeoutMs = 20_000,
): Promise<string> {
  let seen = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.stdout.off('data', onData);
      reject(
        new Error(`no ${pattern} in ${timeoutMs} ms; output so far: ${JSON.stringify(seen.slice(-2000))}`),
      );
    }, timeoutMs);
    const onData = (d: Buffer) => {
      seen += d.toString();
      if (pattern.test(seen)) {
        clearTimeout(timer);
        child.stdout.off('data', onData);
        resolve(seen);
      }
    };
    child.stdout.on('data', onData);
  });
}

function shellQuote(arg: string): string {
  return `'${arg.replaceAll("'", `'\\''`)}'`;
}

/** A configured CLI for `d`, acting as the demo user in `region` (default: the first region). */
export async function createCliSession(
  t: TestContext,
  d: TestDeployment,
  region = d.regions[0]!.name,
): Promise<CliSession> {
  const children = new Set<ChildProcessWithoutNullStreams>();
  // Hooks run in the order they are added: the commands must end before their folder is removed.
  t.after(() => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  });
  const dir = await makeTempDir(t, 'ferry-cli-');
  // The deployment's catalog.json was written before the ports were chosen: write the real endpoints.
  const catalogFile = join(dir, 'catalog.json');
  await writeFile(
    catalogFile,
    JSON.stringify({
      regions: d.catalog.regions.map((r) => ({
        name: r.name,
        display_name: r.display_name,
        endpoint: r.endpoint,
      })),
      replication_pairs: d.catalog.replication_pairs,
    }),
  );
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: dir,
    XDG_CONFIG_HOME: join(dir, 'config'),
    LANG: 'C.UTF-8',
  };
  const start = (args: string[], options: { env?: NodeJS.ProcessEnv } = {}) => {
    const child = spawn(process.execPath, ferryArgs(...args), { env: { ...env, ...options.env } });
    children.add(child);
    return child;
  };
  const session: CliSession = {
    dir,
    env,
    start,
    run: (args, options) => {
      const child = start(args, options);
      child.stdin.end();
      return finished(child);
    },
    startInTerminal(args) {
      const command = [process.execPath, ...ferryArgs(...args)].map(shellQuote).join(' ');
      const child = spawn('script', ['-qec', `stty cols 120 rows 40; exec ${command}`, '/dev/null'], { env });
      children.add(child);
      return child;
    },
  };
  const configured = await session.run([
    'configure',
    '--catalog',
    catalogFile,
    '--region',
    region,
    '--token',
    d.demo.token,
  ]);
  assert.equal(configured.code, 0, configured.stderr);
  return session;
}

/** Parses a command's JSON stdout, failing with its stderr when it is not JSON. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read arbitrary JSON
export function parseJson<T = any>(result: RunResult): T {
  try {
    return JSON.parse(result.stdout) as T;
  } catch {
    assert.fail(`not JSON (exit ${result.code}): ${result.stdout}\nstderr: ${result.stderr}`);
  }
}
