import type { Reporter } from './reporter.js';

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
