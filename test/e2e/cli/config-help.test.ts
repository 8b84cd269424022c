// Configuration (profiles, environment and flags, the message when nothing is configured), help with an
// example on every command, and shell completion.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import type { Command } from 'commander';
import { parseConfig, serializeConfig } from '../../../src/cli/config-file.js';
import { createProgram } from '../../../src/cli/program.js';
import { startTestDeployment } from '../../helpers/deployment.js';
import { ferryArgs } from '../../helpers/ferry-command.js';
import { createCliSession, finished, parseJson, waitForOutput } from './cli-session.js';

const run = promisify(execFile);

test('profiles: configure writes them, FERRY_* and flags override them, nothing configured names the fix', async (t) => {
  const d = await startTestDeployment(t, ['north-1', 'south-1']);
  const cli = await createCliSession(t, d);
  const configFile = join(cli.dir, 'config', 'ferry', 'config');
  const text = await readFile(configFile, 'utf8');
  assert.match(text, /^\[default\]\ncatalog = .*catalog\.json\nregion = north-1\ntoken = fry_/m);
  assert.equal((await stat(configFile)).mode & 0o777, 0o600, 'the token is readable by its owner only');

  // Nothing configured (another config folder): exit 2, naming `ferry configure`.
  const empty = { XDG_CONFIG_HOME: join(cli.dir, 'empty') };
  const bare = await cli.run(['image', 'list'], { env: empty });
  assert.equal(bare.code, 2);
  assert.match(bare.stderr, /no region is configured .*\n.*Run `ferry configure`/);
  const noToken = await cli.run(['image', 'list', '--endpoint', d.url('north-1')], { env: empty });
  assert.equal(noToken.code, 2);
  assert.match(noToken.stderr, /no token is configured .*`ferry configure --token TOKEN`/);
  // An endpoint and a token are enough, without any file.
  const direct = await cli.run(['image', 'list', '--endpoint', d.url('north-1'), '--token', d.demo.token], {
    env: empty,
  });
  assert.equal(direct.code, 0, direct.stderr);

  // A second profile, chosen by --profile or FERRY_PROFILE; an unknown one is a usage error.
  const prod = await cli.run([
    'configure',
    '--profile',
    'prod',
    '--region',
    'south-1',
    '--catalog',
    join(cli.dir, 'catalog.json'),
    '--token',
    d.other.token,
  ]);
  assert.equal(prod.code, 0, prod.stderr);
  assert.match(prod.stdout, /Signed in as olga \(account other, project south-1\) in south-1\./);
  assert.equal(prod.stderr, '', 'no warning');
  // The servers' catalog lists credential hashes, no secret: taken as well, without a warning.
  const serversCatalog = join(cli.dir, 'servers.json');
  await writeFile(serversCatalog, JSON.stringify(d.catalog));
  assert.ok(d.catalog.regions.every((r) => r.credential_sha256?.length === 1));
  const servers = await cli.run([
    'configure',
    '--profile',
    'ops',
    '--catalog',
    serversCatalog,
    '--no-verify',
  ]);
  assert.equal(servers.code, 0, servers.stderr);
  assert.equal(servers.stderr, '');
  // A former catalog, with the regions' secrets in it, is refused with the way to migrate it.
  const formerCatalog = join(cli.dir, 'former.json');
  await writeFile(
    formerCatalog,
    JSON.stringify({
      regions: [{ name: 'north-1', endpoint: d.url('north-1'), internal_secret: 's'.repeat(24) }],
    }),
  );
  const former = await cli.run(['configure', '--profile', 'old', '--catalog', formerCatalog, '--no-verify']);
  assert.notEqual(former.code, 0);
  assert.match(
    former.stderr,
    /regions\[0\]\.internal_secret: the catalog no longer holds region secrets.*ferry region credential migrate/,
  );
  assert.match(
    await readFile(configFile, 'utf8'),
    /\[default\][^[]*\n\[profile prod\]\ncatalog = .*\nregion = south-1\n/,
  );
  const viaFlag = parseJson(await cli.run(['whoami', '--profile', 'prod', '-o', 'json']));
  assert.deepEqual([viaFlag.user.name, viaFlag.region], ['olga', 'south-1']);
  const viaEnv = parseJson(await cli.run(['whoami', '-o', 'json'], { env: { FERRY_PROFILE: 'prod' } }));
  assert.equal(viaEnv.user.name, 'olga');
  const unknown = await cli.run(['whoami', '--profile', 'nope']);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /profile nope is not in .*`ferry configure --profile nope`/);

  // Environment over the profile, flags over the environment.
  const envRegion = parseJson(await cli.run(['whoami', '-o', 'json'], { env: { FERRY_REGION: 'south-1' } }));
  assert.equal(envRegion.region, 'south-1');
  const flagRegion = parseJson(
    await cli.run(['whoami', '--region', 'north-1', '-o', 'json'], { env: { FERRY_REGION: 'south-1' } }),
  );
  assert.equal(flagRegion.region, 'north-1');
  const badToken = await cli.run(['whoami'], { env: { FERRY_TOKEN: 'fry_nope' } });
  assert.equal(badToken.code, 3);
  assert.match(badToken.stderr, /^ferry: UNAUTHORIZED: /);
  const unknownRegion = await cli.run(['whoami', '--region', 'mars-1']);
  assert.equal(unknownRegion.code, 2);
  assert.match(unknownRegion.stderr, /region mars-1 is not in the catalog/);

  // `ferry configure` on a terminal asks, showing the current values; Enter keeps them.
  const asking = cli.startInTerminal(['configure', '--profile', 'asked']);
  const done = finished(asking);
  await waitForOutput(asking, /Region catalog \(file or URL.*\[\]: /);
  asking.stdin.write(`${join(cli.dir, 'catalog.json')}\r`);
  await waitForOutput(asking, /Region \[north-1\]: /);
  asking.stdin.write('south-1\r');
  await waitForOutput(asking, /Token \[\]: /);
  asking.stdin.write(`${d.demo.token}\r`);
  await waitForOutput(asking, /Agency for replication \[\]: /);
  asking.stdin.write('\r');
  await waitForOutput(asking, /Default output \(table or json\) \[table\]: /);
  asking.stdin.write('json\r');
  const asked = await done;
  assert.equal(asked.code, 0, asked.stdout);
  assert.ok(!asked.stdout.includes(d.demo.token), 'the token is not echoed');
  assert.match(
    await readFile(configFile, 'utf8'),
    /\[profile asked\]\ncatalog = .*\nregion = south-1\ntoken = fry_.*\noutput = json\n/,
  );
});

test('the configuration file format: [default], [profile NAME], comments, unknown keys kept', () => {
  const profiles = parseConfig(
    '# comment\n[default]\nregion = a\n\n[profile x]\n; another\ntoken = t=1\nextra = y\n',
  );
  assert.deepEqual(Object.fromEntries(profiles), {
    default: { region: 'a' },
    x: { token: 't=1', extra: 'y' },
  });
  assert.deepEqual(parseConfig(serializeConfig(profiles)), profiles);
  assert.throws(() => parseConfig('region = a\n'), /line 1/);
});

/** Every command of the tree, with its path. */
function allCommands(command: Command, path: string[] = []): Array<[string, Command]> {
  return command.commands.flatMap((c) => [
    [[...path, c.name()].join(' '), c] as [string, Command],
    ...allCommands(c, [...path, c.name()]),
  ]);
}

test('every command has --help with an example; ferry help PATH shows the same', async () => {
  const program = createProgram();
  const commands = allCommands(program);
  assert.ok(commands.length > 40, `${commands.length} commands`);
  for (const [path, command] of [['', program] as [string, Command], ...commands]) {
    let help = '';
    command.configureOutput({ writeOut: (text) => (help += text) });
    command.outputHelp();
    assert.match(help, /\nExamples?:\n {2}(ferry|source) /, `ferry ${path} --help has an example`);
  }
  const viaHelp = await run(process.execPath, ferryArgs('help', 'image', 'replicate'));
  const viaFlag = await run(process.execPath, ferryArgs('image', 'replicate', '--help'));
  assert.equal(viaHelp.stdout, viaFlag.stdout);
  assert.match(viaHelp.stdout, /--bandwidth <rate>/);

  const unknown = await run(process.execPath, ferryArgs('image', 'lst')).catch(
    (error: { code: number; stderr: string }) => error,
  );
  assert.equal((unknown as { code: number }).code, 2);
  assert.match((unknown as { stderr: string }).stderr, /unknown command 'lst'[\s\S]*Did you mean list\?/);
});

test('shell completion: bash completes commands, options and region names; zsh reads its script', async () => {
  const { stdout: script } = await run(process.execPath, ferryArgs('completion', 'bash'));
  const complete = async (...words: string[]) => {
    const program = `${script}\nferry() { echo north-1; echo south-1; }\nCOMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _ferry; echo "\${COMPREPLY[*]}"`;
    return (await run('bash', ['-c', program])).stdout.trim().split(' ');
  };
  assert.deepEqual(await complete('ferry', 'im'), ['image']);
  assert.deepEqual(
    await complete('ferry', 'image', 'rep'),
    ['replicate', 'reactivate'].filter((w) => w.startsWith('rep')),
  );
  assert.ok((await complete('ferry', 'image', 'replicate', 'x', '--b')).includes('--bandwidth'));
  assert.ok(
    (await complete('ferry', '--region', 'north-1', 'job', '')).includes('wait'),
    'global options are skipped',
  );
  assert.deepEqual(await complete('ferry', 'image', 'replicate', 'x', '--to', 's'), ['south-1']);
  assert.deepEqual(await complete('ferry', 'image', 'list', '--output', 'j'), ['json']);

  const { stdout: zsh } = await run(process.execPath, ferryArgs('completion', 'zsh'));
  assert.match(zsh, /^#compdef ferry\n/);
  const hasZsh = await run('zsh', ['--version']).then(
    () => true,
    () => false,
  );
  if (hasZsh) await run('zsh', ['-n', '-c', zsh]);
  else assert.ok(zsh.includes('compadd'), 'zsh is not installed: the script is checked for its shape only');
});
