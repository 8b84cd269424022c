/**
 * What a command's action works with: the printer for its results, the progress mode, and clients for the
 * configured region (or any region of the catalog), built from the merged settings (`settings.ts`). Also the
 * two helpers every command file uses: `withContext` (wraps an action) and `example` (help text).
 * @module
 */
import type { Command } from 'commander';
import { createClient, type FerryClient } from './client.js';
import { coerceCliError, UsageError } from './errors.js';
import { createPrinter, type Printer } from './output.js';
import { progressModeFor, type ProgressMode } from './progress.js';
import {
  loadRegionCatalog,
  notConfiguredMessage,
  resolveSettings,
  type GlobalOptions,
  type RegionEndpoint,
  type ResolvedSettings,
} from './settings.js';
import { installInterruptHandling } from './signals.js';

export interface CliContext {
  readonly out: Printer;
  readonly progressMode: ProgressMode;
  readonly settings: ResolvedSettings;
  /**
   * A client for `region` (default: the configured region) with the configured token. Throws a UsageError
   * naming `ferry configure` when there is no endpoint for it or no token (unless `anonymous`).
   */
  client(region?: string, options?: { anonymous?: boolean }): Promise<FerryClient>;
  /** The catalog's regions; without a catalog, the configured region and endpoint alone. */
  regions(): Promise<RegionEndpoint[]>;
}

export async function loadContext(command: Command): Promise<CliContext> {
  const globals = command.optsWithGlobals<GlobalOptions>();
  const settings = await resolveSettings(globals);
  const out = createPrinter({ format: settings.output, quiet: globals.quiet === true });
  let catalog: Promise<RegionEndpoint[]> | undefined;
  const loadCatalog = () =>
    (catalog ??= settings.catalog ? loadRegionCatalog(settings.catalog) : Promise.resolve([]));

  async function regions(): Promise<RegionEndpoint[]> {
    const listed = await loadCatalog();
    if (listed.length > 0) {
      if (settings.endpoint && settings.region) {
        return listed.map((r) => (r.name === settings.region ? { ...r, endpoint: settings.endpoint! } : r));
      }
      return listed;
    }
    if (settings.endpoint) {
      const name = settings.region ?? '(endpoint)';
      return [{ name, display_name: name, endpoint: settings.endpoint }];
    }
    return [];
  }

  async function client(region?: string, options: { anonymous?: boolean } = {}): Promise<FerryClient> {
    const name = region ?? settings.region;
    let endpoint = name === settings.region ? settings.endpoint : undefined;
    if (!endpoint && name !== undefined && settings.catalog) {
      endpoint = (await loadCatalog()).find((r) => r.name === name)?.endpoint;
      if (!endpoint) {
        throw new UsageError(
          `region ${name} is not in the catalog ${settings.catalog}; see \`ferry region list\``,
        );
      }
    }
    if (!endpoint) {
      throw new UsageError(
        name === undefined || settings.region === undefined
          ? notConfiguredMessage(settings)
          : `region ${name} has no endpoint: run \`ferry configure --catalog FILE|URL\` or pass --endpoint URL`,
      );
    }
    if (!options.anonymous && !settings.token) {
      throw new UsageError(
        `no token is configured (profile ${settings.profileName}): run \`ferry configure --token TOKEN\`, ` +
          'set FERRY_TOKEN, or pass --token',
      );
    }
    return createClient({
      endpoint,
      ...(name !== undefined ? { region: name } : {}),
      ...(settings.token && !options.anonymous ? { token: settings.token } : {}),
    });
  }

  return { out, progressMode: progressModeFor(globals.progress !== false), settings, client, regions };
}

/**
 * Wraps a command action: commander passes the positional arguments, then the options, then the command;
 * the handler gets the context, the options and the arguments.
 */
export function withContext<A extends unknown[], O = Record<string, unknown>>(
  handler: (ctx: CliContext, options: O, ...args: A) => Promise<void>,
): (...params: unknown[]) => Promise<void> {
  return async (...params: unknown[]) => {
    const command = params[params.length - 1] as Command;
    const args = params.slice(0, -2) as A;
    installInterruptHandling();
    const ctx = await loadContext(command);
    try {
      await handler(ctx, command.opts<O & object>(), ...args);
    } catch (error) {
      const failure = coerceCliError(error);
      failure.format = ctx.out.format;
      throw failure;
    }
  };
}

/** Adds an "Example(s):" section to a command's help; every command has one. */
export function example<C extends Command>(command: C, ...lines: string[]): C {
  const title = lines.length > 1 ? 'Examples' : 'Example';
  return command.addHelpText('after', `\n${title}:\n${lines.map((l) => `  ${l}`).join('\n')}`);
}

/** Collects a repeatable option (`--to a --to b`), splitting commas (`--to a,b`). */
export function collect(value: string, previous: string[] = []): string[] {
  return [
    ...previous,
    ...value
      .split(',')
      .map((v) => v.trim())
      .filter((v) => v !== ''),
  ];
}
