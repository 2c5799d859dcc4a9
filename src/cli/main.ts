#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { Reporter } from './reporter.js';
import { EXIT, exitCodeFor, type CliCommand } from './command.js';
import { runCommand } from './run-command.js';
import { validateCommand } from './validate-command.js';
import { previewCommand } from './preview-command.js';
import { runsCommand } from './runs-command.js';
import { verifyCommand } from './verify-command.js';
import { extraCommands } from './extra-commands.js';
import { listCommand } from './list-command.js';
import { initCommand } from './init-command.js';
import { schemaCommand } from './schema-command.js';
import { packageVersion } from '../package-info.js';

const commands: CliCommand[] = [validateCommand, previewCommand, runCommand, runsCommand, verifyCommand, listCommand, initCommand, schemaCommand, ...extraCommands];

/** Builds the command line; `main` is the only place that calls process.exit. */
export async function main(argv: string[]): Promise<number> {
  const program = new Command('outflow')
    .description('keep operational tables in step with warehouse models (reverse ETL)')
    .version(packageVersion(), '-V, --version', 'print the version of outflow')
    .option('--json', 'machine-readable output: one JSON document, failures included')
    .option('--verbose', 'show error causes and stack traces')
    // Each command's --help lists --json and --verbose too.
    .configureHelp({ showGlobalOptions: true })
    .showSuggestionAfterError(true)
    .exitOverride();
  let code: number = EXIT.ok;
  for (const c of commands) {
    const cmd = program.command(c.name).description(c.description).exitOverride();
    for (const a of c.args.split(' ').filter(Boolean)) cmd.argument(a);
    for (const o of c.options) cmd.option(o.flags, o.description, o.defaultValue as string | boolean | undefined);
    cmd.action(async (...params: unknown[]) => {
      const command = params[params.length - 1] as Command;
      // A variadic argument ([paths...]) arrives as an array and stays one.
      const args = params.slice(0, -2).map((a) => (a === undefined ? undefined : Array.isArray(a) ? a.map(String) : String(a))) as string[];
      const opts = command.opts();
      const global = program.opts();
      const reporter = new Reporter(!!global.json, !!global.verbose);
      try {
        code = await c.run(args, opts, reporter);
      } catch (e) {
        reporter.error((e as Error).message ?? String(e), e);
        code = exitCodeFor(e);
      } finally {
        reporter.finish();
      }
    });
  }
  try {
    await program.parseAsync(argv);
  } catch (e) {
    if (!(e instanceof CommanderError)) throw e;
    if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return EXIT.ok;
    // Unknown option or command, missing argument: bad usage, like a bad config.
    return EXIT.config;
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
