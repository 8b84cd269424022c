#!/usr/bin/env node
/**
 * The `ferry` command: `local` (the multi-region demo deployment), `serve` (one region), and
 * `admin bootstrap` (the first administrator).
 * @module
 */
import { Command } from 'commander';
import { registerAdminCommands } from './commands/admin.js';
import { registerLocalCommand } from './commands/local.js';
import { registerServeCommand } from './commands/serve.js';

const program = new Command()
  .name('ferry')
  .description('Ferry: the image service of a multi-region cloud, with cross-region image replication.')
  .showHelpAfterError();

registerLocalCommand(program);
registerServeCommand(program);
registerAdminCommands(program);

program.parseAsync(process.argv).catch((error: unknown) => {
  console.error(`ferry: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
});
