/**
 * `ferry configure`: writes a profile of the configuration file, from flags (`--catalog --region --token`,
 * for scripts) or by asking on the terminal (current values in brackets; Enter keeps them), like
 * `aws configure`. Checks the region is in the catalog, then tries the token (`whoami`) and says who it is.
 * @module
 */
import path from 'node:path';
import { createInterface } from 'node:readline/promises';
import { Writable } from 'node:stream';
import type { Command } from 'commander';
import { createClient } from '../client.js';
import { configFilePath, DEFAULT_PROFILE, readConfig, writeProfile, type Profile } from '../config-file.js';
import { example } from '../context.js';
import { coerceCliError, describeError, UsageError } from '../errors.js';
import { createPrinter } from '../output.js';
import {
  loadRegionCatalog,
  parseOutputFormat,
  type GlobalOptions,
  type RegionEndpoint,
} from '../settings.js';

interface ConfigureOptions {
  catalog?: string;
  agency?: string;
  defaultOutput?: string;
  verify: boolean;
}

/** A catalog reference as stored: URLs as they are, files as absolute paths. */
function catalogRef(value: string): string {
  return /^https?:\/\//.test(value) ? value : path.resolve(value);
}

function masked(token: string | undefined): string {
  return token ? `****${token.slice(-4)}` : '';
}

/** Asks for each setting on the terminal, showing the current value; Enter keeps it. The token is not echoed. */
async function askForProfile(current: Profile): Promise<Profile> {
  // Readline echoes what is typed through `output` (in terminal mode): muting it hides the token.
  let muted = false;
  const output = Object.assign(
    new Writable({
      write(chunk, _encoding, callback) {
        if (!muted) process.stderr.write(chunk);
        callback();
      },
    }),
    { columns: process.stderr.columns },
  );
  const rl = createInterface({ input: process.stdin, output, terminal: true });
  try {
    const ask = async (question: string, value: string | undefined, shown = value, secret = false) => {
      process.stderr.write(`${question} [${shown ?? ''}]: `);
      muted = secret;
      const answer = await rl.question('');
      if (secret) process.stderr.write('\n');
      muted = false;
      return answer.trim() || value;
    };
    const catalog = await ask('Region catalog (file or URL, e.g. ./data/regions.json)', current.catalog);
    let regions: RegionEndpoint[] = [];
    if (catalog) {
      regions = await loadRegionCatalog(catalogRef(catalog));
      process.stderr.write(`Regions: ${regions.map((r) => r.name).join(', ')}\n`);
    }
    const region = await ask('Region', current.region ?? regions[0]?.name);
    const endpoint = catalog ? current.endpoint : await ask('Endpoint URL', current.endpoint);
    const token = await ask('Token', current.token, masked(current.token), true);
    const agency = await ask('Agency for replication', current.agency);
    const output = await ask('Default output (table or json)', current.output ?? 'table');
    return {
      catalog: catalog ? catalogRef(catalog) : undefined,
      region,
      endpoint,
      token,
      agency,
      output,
    };
  } finally {
    rl.close();
  }
}

export function registerConfigureCommand(program: Command): void {
  example(
    program
      .command('configure')
      .description(
        'Write a profile (region catalog, region, token) to the configuration file: from the flags, or by asking.',
      )
      .option('--catalog <file|url>', 'the region catalog (e.g. the regions.json `ferry local` writes)')
      .option('--agency <name>', 'the agency `image replicate` uses by default')
      .option('--default-output <format>', 'the profile’s output format: table or json')
      .option('--no-verify', 'do not try the token')
      .addHelpText(
        'after',
        '\nThe global --profile, --region, --token and --endpoint flags say which profile to write and what to put in it.',
      ),
    'ferry configure                      # asks, showing the current values',
    'ferry configure --catalog ./data/regions.json --region north-1 --token $TOKEN',
    'ferry configure --profile prod --catalog https://ferry.example.com/regions.json --region eu-1 --token $T',
  ).action(async (o: ConfigureOptions, command: Command) => {
    const globals = command.optsWithGlobals<GlobalOptions>();
    const out = createPrinter({ format: parseOutputFormat(globals.output), quiet: globals.quiet === true });
    const file = configFilePath();
    const name = globals.profile ?? process.env.FERRY_PROFILE ?? DEFAULT_PROFILE;
    const current = (await readConfig(file)).get(name) ?? {};
    const fromFlags: Profile = {
      catalog: o.catalog === undefined ? undefined : catalogRef(o.catalog),
      region: globals.region,
      token: globals.token,
      endpoint: globals.endpoint,
      agency: o.agency,
      output: o.defaultOutput,
    };
    const anyFlag = Object.values(fromFlags).some((v) => v !== undefined);
    let values: Profile;
    if (anyFlag || !process.stdin.isTTY) values = fromFlags;
    else values = await askForProfile(current);
    if (values.output !== undefined) parseOutputFormat(values.output);

    const merged: Profile = {
      ...current,
      ...Object.fromEntries(Object.entries(values).filter(([, v]) => v)),
    };
    if (!merged.catalog && !merged.endpoint) {
      throw new UsageError('a profile needs --catalog FILE|URL (or --endpoint URL for a single region)');
    }
    if (merged.catalog) {
      const regions = await loadRegionCatalog(merged.catalog);
      if (merged.region && !regions.some((r) => r.name === merged.region)) {
        throw new UsageError(
          `region ${merged.region} is not in the catalog (${regions.map((r) => r.name).join(', ')})`,
        );
      }
      merged.region ??= regions[0]?.name;
    }
    const saved = await writeProfile(file, name, { ...values, region: merged.region });

    let identity: Record<string, unknown> | undefined;
    if (o.verify && saved.token && saved.region) {
      try {
        const endpoint =
          saved.endpoint ??
          (await loadRegionCatalog(saved.catalog!)).find((r) => r.name === saved.region)!.endpoint;
        identity = await createClient({ endpoint, region: saved.region, token: saved.token }).request(
          'GET',
          '/v1/auth/whoami',
        );
      } catch (error) {
        out.warn(
          `the profile was saved, but the token could not be checked: ${describeError(coerceCliError(error))}`,
        );
      }
    }
    const { token, ...shown } = saved;
    const summary = {
      profile: name,
      config_file: file,
      ...shown,
      token: masked(token),
      whoami: identity ?? null,
    };
    out.emit({
      json: summary,
      ids: [name],
      human: () => {
        const user = identity?.user as { name?: string } | undefined;
        const account = identity?.account as { name?: string } | undefined;
        const project = identity?.project as { name?: string } | undefined;
        return [
          `Saved profile ${name} in ${file}.`,
          ...(identity
            ? [
                `Signed in as ${user?.name} (account ${account?.name}, project ${project?.name}) in ${saved.region}.`,
              ]
            : []),
        ].join('\n');
      },
    });
  });
}
