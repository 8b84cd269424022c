/**
 * The CLI's configuration file: named profiles in INI form, as the AWS CLI keeps them, at
 * `$XDG_CONFIG_HOME/ferry/config` (default `~/.config/ferry/config`; `FERRY_CONFIG_FILE` names another file).
 *
 * ```ini
 * [default]
 * catalog = /home/me/ferry/data/regions.json
 * region = north-1
 * token = 4f0c…
 *
 * [profile prod]
 * catalog = https://ferry.example.com/regions.json
 * region = eu-west-1
 * token = …
 * output = json
 * ```
 *
 * The file holds tokens, so it is written readable by its owner only (mode 0600).
 * @module
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import path from 'node:path';

/** Keys a profile may set; others are kept as they are but not used. */
export const PROFILE_KEYS = ['catalog', 'region', 'token', 'endpoint', 'output', 'agency'] as const;
export type ProfileKey = (typeof PROFILE_KEYS)[number];

/** One profile: `catalog` (file or URL), `region`, `token`, `endpoint`, `output`, `agency`. */
export type Profile = Partial<Record<ProfileKey, string>> & Record<string, string | undefined>;

/** The profile used when neither `--profile` nor `FERRY_PROFILE` names one. */
export const DEFAULT_PROFILE = 'default';

/** Where the configuration file is, following `FERRY_CONFIG_FILE`, then `XDG_CONFIG_HOME`, then `~/.config`. */
export function configFilePath(env: NodeJS.ProcessEnv = process.env): string {
  if (env.FERRY_CONFIG_FILE) return path.resolve(env.FERRY_CONFIG_FILE);
  const base = env.XDG_CONFIG_HOME && path.isAbsolute(env.XDG_CONFIG_HOME) ? env.XDG_CONFIG_HOME : undefined;
  return path.join(base ?? path.join(homedir(), '.config'), 'ferry', 'config');
}

/** Section header → profile name: `[default]`, `[profile NAME]` and `[NAME]` are all read. */
function profileName(header: string): string {
  const name = header.trim();
  return name.startsWith('profile ') ? name.slice('profile '.length).trim() : name;
}

/** Parses the INI text; comments (`#`, `;`) and blank lines are skipped, later keys win. */
export function parseConfig(text: string): Map<string, Profile> {
  const profiles = new Map<string, Profile>();
  let current: Profile | undefined;
  for (const [index, raw] of text.split(/\r?\n/).entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const section = /^\[(.+)\]$/.exec(line);
    if (section) {
      const name = profileName(section[1]!);
      current = profiles.get(name) ?? {};
      profiles.set(name, current);
      continue;
    }
    const eq = line.indexOf('=');
    if (eq <= 0 || !current) {
      throw new Error(`line ${index + 1} is neither [profile NAME] nor key = value inside a profile`);
    }
    current[line.slice(0, eq).trim()] = line.slice(eq + 1).trim();
  }
  return profiles;
}

/** The INI text for `profiles`: `[default]` and `[profile NAME]` sections, keys in a stable order. */
export function serializeConfig(profiles: Map<string, Profile>): string {
  const sections = [...profiles].map(([name, profile]) => {
    const known = PROFILE_KEYS.filter((k) => profile[k] !== undefined);
    const other = Object.keys(profile)
      .filter((k) => !(PROFILE_KEYS as readonly string[]).includes(k) && profile[k] !== undefined)
      .sort();
    const lines = [...known, ...other].map((k) => `${k} = ${profile[k]}`);
    return [name === DEFAULT_PROFILE ? '[default]' : `[profile ${name}]`, ...lines].join('\n');
  });
  return `# Ferry CLI profiles (ferry configure writes this file; see docs/cli.md)\n\n${sections.join('\n\n')}\n`;
}

/** Reads every profile; an absent file is no profiles. */
export async function readConfig(file: string): Promise<Map<string, Profile>> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
    throw error;
  }
  try {
    return parseConfig(text);
  } catch (error) {
    throw new Error(`${file}: ${(error as Error).message}`);
  }
}

/**
 * Sets `values` in profile `name` (keys given as undefined are left alone) and rewrites the file atomically
 * (temp file + rename), mode 0600. Other profiles are kept; comments are not.
 */
export async function writeProfile(file: string, name: string, values: Profile): Promise<Profile> {
  const profiles = await readConfig(file);
  const profile: Profile = { ...(profiles.get(name) ?? {}) };
  for (const [key, value] of Object.entries(values)) if (value !== undefined) profile[key] = value;
  profiles.set(name, profile);
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const temp = `${file}.${process.pid}.tmp`;
  await writeFile(temp, serializeConfig(profiles), { mode: 0o600 });
  await rename(temp, file);
  return profile;
}
