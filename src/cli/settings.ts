/**
 * Which profile, region, endpoint and token a command uses. Each setting is taken from the first place that
 * has it, as in the AWS CLI: the command-line flag, then the environment variable, then the profile in the
 * configuration file. The region's endpoint comes from `--endpoint` / `FERRY_ENDPOINT` / the profile's
 * `endpoint`, else from the profile's region catalog (a file or an http(s) URL, e.g. the `regions.json` that
 * `ferry local` writes).
 * @module
 */
import { readFile } from 'node:fs/promises';
import { parseCatalog } from '../config/catalog.js';
import { getText } from './client.js';
import { configFilePath, DEFAULT_PROFILE, readConfig, type Profile } from './config-file.js';
import { CliError, UsageError } from './errors.js';
import type { OutputFormat } from './output.js';

/** Options every command accepts (defined on the program, usable before or after the command). */
export interface GlobalOptions {
  profile?: string;
  region?: string;
  token?: string;
  endpoint?: string;
  output?: string;
  quiet?: boolean;
  /** False with `--no-progress`. */
  progress?: boolean;
}

export interface ResolvedSettings {
  configFile: string;
  profileName: string;
  /** The profile as read from the file (empty when it has no such profile). */
  profile: Profile;
  region?: string;
  token?: string;
  endpoint?: string;
  catalog?: string;
  output: OutputFormat;
  /** The agency `image replicate` uses when `--agency` is not given. */
  agency?: string;
}

/** A region as the CLI needs it: its name and where to call it. */
export interface RegionEndpoint {
  name: string;
  display_name: string;
  endpoint: string;
}

/** The agency `ferry local` provisions, used when neither `--agency` nor the profile names one. */
export const DEFAULT_AGENCY = 'ferry_copy';

function pick(...values: Array<string | undefined>): string | undefined {
  return values.find((v) => v !== undefined && v !== '');
}

export function parseOutputFormat(value: string | undefined): OutputFormat {
  if (value === undefined || value === 'table') return 'table';
  if (value === 'json') return 'json';
  throw new UsageError(`--output must be table or json, not ${value}`);
}

/** Merges flags, environment and the configuration file. Reads the file; does no network call. */
export async function resolveSettings(
  globals: GlobalOptions,
  env: NodeJS.ProcessEnv = process.env,
): Promise<ResolvedSettings> {
  const configFile = configFilePath(env);
  const profiles = await readConfig(configFile).catch((error: Error) => {
    throw new UsageError(`cannot read the configuration: ${error.message}`);
  });
  const profileName = pick(globals.profile, env.FERRY_PROFILE) ?? DEFAULT_PROFILE;
  const profile = profiles.get(profileName);
  if (!profile && profileName !== DEFAULT_PROFILE) {
    throw new UsageError(
      `profile ${profileName} is not in ${configFile}: create it with \`ferry configure --profile ${profileName}\``,
    );
  }
  const p = profile ?? {};
  const region = pick(globals.region, env.FERRY_REGION, p.region);
  const regionChanged = pick(globals.region, env.FERRY_REGION) !== undefined && region !== p.region;
  return {
    configFile,
    profileName,
    profile: p,
    region,
    token: pick(globals.token, env.FERRY_TOKEN, p.token),
    // A profile's fixed endpoint belongs to the profile's region, not to another one named by flag.
    endpoint: pick(globals.endpoint, env.FERRY_ENDPOINT, regionChanged ? undefined : p.endpoint),
    catalog: pick(env.FERRY_CATALOG, p.catalog),
    output: parseOutputFormat(pick(globals.output, env.FERRY_OUTPUT, p.output)),
    agency: pick(env.FERRY_AGENCY, p.agency),
  };
}

/**
 * Reads a region catalog from a file or an http(s) URL (a servers' catalog or a clients' one); keeps only
 * names and endpoints.
 */
export async function loadRegionCatalog(ref: string): Promise<RegionEndpoint[]> {
  let text: string;
  try {
    if (/^https?:\/\//.test(ref)) {
      text = await getText(ref);
    } else {
      text = await readFile(ref, 'utf8');
    }
  } catch (error) {
    throw new CliError(`cannot read the region catalog ${ref}: ${(error as Error).message}`);
  }
  try {
    return parseCatalog(JSON.parse(text)).regions.map((r) => ({
      name: r.name,
      display_name: r.display_name,
      endpoint: r.endpoint,
    }));
  } catch (error) {
    throw new CliError(`the region catalog ${ref} is not valid: ${(error as Error).message}`);
  }
}

/** The message for "no region or endpoint", naming the command that fixes it. */
export function notConfiguredMessage(settings: ResolvedSettings): string {
  return (
    `no region is configured (profile ${settings.profileName} in ${settings.configFile}).\n` +
    `Run \`ferry configure\` (or \`ferry configure --catalog FILE|URL --region REGION --token TOKEN\`), ` +
    `or pass --region with --endpoint. Tip: \`ferry local\` writes <data>/regions.json.`
  );
}
