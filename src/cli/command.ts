import type { Reporter } from './reporter.js';
import { ConfigError, LockedError, ModelError, SchemaMismatchError } from '../errors.js';

export interface CommandOption {
  flags: string;
  description: string;
  defaultValue?: string | boolean;
}

/** A command is data: the CLI entry point wires it into commander and owns process.exit. */
export interface CliCommand {
  name: string;
  args: string;
  description: string;
  options: CommandOption[];
  run(args: string[], opts: Record<string, unknown>, reporter: Reporter): Promise<number>;
}

export function defineCommand(c: CliCommand): CliCommand {
  return c;
}

/** Exit codes: 0 success, 1 failed run or check, 2 bad usage or config, 3 partial (rows rejected), 4 locked. */
export const EXIT = { ok: 0, failed: 1, config: 2, partial: 3, locked: 4 } as const;

/** The exit code for an error a command could not get past: the same for every command. */
export function exitCodeFor(e: unknown): number {
  if (e instanceof ConfigError || e instanceof SchemaMismatchError || e instanceof ModelError) return EXIT.config;
  if (e instanceof LockedError) return EXIT.locked;
  return EXIT.failed;
}

/** Every command that reads a pipeline's state takes the same option. */
export const STATE_DIR_OPTION: CommandOption = {
  flags: '--state-dir <dir>',
  description: 'where run history and snapshots live (default: the pipeline\'s state.dir, $OUTFLOW_STATE_DIR or .outflow)',
};

/** Commands that read or write shared state take this beside --state-dir. */
export const STATE_URL_OPTION: CommandOption = {
  flags: '--state-url <url>',
  description: "a Postgres database for shared state: run history, locks, the local diff's snapshots, the workers' job queue (default: the pipeline's state.url or $OUTFLOW_STATE_URL)",
};

/** The load options a command passes on from its own options. */
export function stateDirOf(opts: Record<string, unknown>): { stateDir?: string; stateUrl?: string } {
  return { stateDir: opts.stateDir as string | undefined, stateUrl: opts.stateUrl as string | undefined };
}
