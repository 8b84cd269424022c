/**
 * The `ferry` command tree: global options, then one `register…` call per resource file in `commands/`.
 * A new resource (vaults, usage, webhooks) is one new file and one line here.
 * @module
 */
import { Command } from 'commander';
import { registerAdminCommands } from './commands/admin.js';
import { registerCompletionCommand } from './commands/completion.js';
import { registerConfigureCommand } from './commands/configure.js';
import { registerImageCommands } from './commands/image.js';
import { registerJobCommands } from './commands/job.js';
import { registerLimitsCommand } from './commands/limits.js';
import { registerUsageCommand } from './commands/usage.js';
import { registerVaultCommands } from './commands/vault.js';
import { registerLocalCommand } from './commands/local.js';
import { registerMemberCommands } from './commands/member.js';
import { registerRegionCommands } from './commands/region.js';
import { registerServeCommand } from './commands/serve.js';
import { example } from './context.js';
import { UsageError } from './errors.js';

export const VERSION = '0.1.0';

/** `ferry help [command...]`: the help of any command, however deep. */
function registerHelpCommand(program: Command): void {
  example(
    program
      .command('help')
      .argument('[command...]', 'the command')
      .description('Show the help of a command.'),
    'ferry help image replicate',
  ).action((path: string[]) => {
    let command = program;
    for (const name of path) {
      const next = command.commands.find((c) => c.name() === name || c.aliases().includes(name));
      if (!next) throw new UsageError(`no command ${[...path.slice(0, path.indexOf(name)), name].join(' ')}`);
      command = next;
    }
    command.outputHelp();
  });
}

export function createProgram(): Command {
  const program = new Command()
    .name('ferry')
    .description(
      'Ferry: the image service of a multi-region cloud, with cross-region image replication.\n' +
        'Settings come from flags, then FERRY_* variables, then the profile (`ferry configure`).',
    )
    .version(VERSION, '-V, --version')
    .option('--profile <name>', 'profile of the configuration file (env FERRY_PROFILE; default: default)')
    .option('--region <name>', 'region to act in (env FERRY_REGION)')
    .option('--token <token>', 'API token (env FERRY_TOKEN)')
    .option('--endpoint <url>', "the region's API endpoint, instead of the catalog's (env FERRY_ENDPOINT)")
    .option('-o, --output <format>', 'table (default) or json (env FERRY_OUTPUT)')
    .option('-q, --quiet', 'print only IDs, one a line')
    .option('--no-progress', 'no progress bars or lines')
    .showHelpAfterError()
    .configureHelp({ showGlobalOptions: true })
    .helpCommand(false)
    .exitOverride();
  example(
    program,
    'ferry configure',
    'ferry image create --file disk.qcow2',
    'ferry image replicate disk --to south-1 --wait',
  );

  registerConfigureCommand(program);
  registerImageCommands(program);
  registerJobCommands(program);
  registerMemberCommands(program);
  registerRegionCommands(program);
  registerLimitsCommand(program);
  registerUsageCommand(program);
  registerVaultCommands(program);
  registerAdminCommands(program);
  registerLocalCommand(program);
  registerServeCommand(program);
  registerCompletionCommand(program);
  registerHelpCommand(program);
  // `ferry help PATH...` replaces commander's per-command `help [command]`.
  const withoutHelpCommand = (command: Command) => {
    command.helpCommand(false);
    command.commands.forEach(withoutHelpCommand);
  };
  program.commands.forEach(withoutHelpCommand);
  return program;
}
