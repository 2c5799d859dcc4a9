#!/usr/bin/env node
import { Command } from 'commander';
import { Reporter } from './reporter.js';
import { EXIT, type CliCommand } from './command.js';
import { runCommand } from './run-command.js';
import { validateCommand } from './validate-command.js';
import { previewCommand } from './preview-command.js';
import { runsCommand } from './runs-command.js';
import { verifyCommand } from './verify-command.js';
import { extraCommands } from './extra-commands.js';
import { ConfigError, LockedError, ModelError, SchemaMismatchError } from '../errors.js';

const commands: CliCommand[] = [validateCommand, previewCommand, runCommand, runsCommand, verifyCommand, ...extraCommands];

/** The only place that calls process.exit. */
export async function main(argv: string[]): Promise<number> {
  const program = new Command('outflow')
    .description('keep operational tables in step with warehouse models (reverse ETL)')
    .option('--json', 'machine-readable output')
    .option('--verbose', 'show error causes and stack traces')
    .exitOverride();
  let code: number = EXIT.ok;
  for (const c of commands) {
    const cmd = program.command(c.name).description(c.description);
    for (const a of c.args.split(' ').filter(Boolean)) cmd.argument(a);
    for (const o of c.options) cmd.option(o.flags, o.description, o.defaultValue as string | boolean | undefined);
    cmd.action(async (...params: unknown[]) => {
      const command = params[params.length - 1] as Command;
      const args = params.slice(0, -2).map(String);
      const opts = command.opts();
      const global = program.opts();
      const reporter = new Reporter(!!global.json, !!global.verbose);
      try {
        code = await c.run(args, opts, reporter);
      } catch (e) {
        reporter.error((e as Error).message ?? String(e), e);
        code =
          e instanceof ConfigError || e instanceof SchemaMismatchError || e instanceof ModelError
            ? EXIT.config
            : e instanceof LockedError
              ? EXIT.locked
              : EXIT.failed;
      }
    });
  }
  try {
    await program.parseAsync(argv);
  } catch (e) {
    const err = e as { exitCode?: number; code?: string };
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return EXIT.ok;
    return err.exitCode ?? EXIT.config;
  }
  return code;
}

main(process.argv).then(
  (code) => process.exit(code),
  (e) => {
    process.stderr.write(`error: ${(e as Error).message}\n`);
    process.exit(EXIT.failed);
  },
);
