import { Reporter } from '../../src/cli/reporter.js';
import type { CliCommand } from '../../src/cli/command.js';

/** Calls a CLI command in-process (commands are data) and captures what it prints. */
export async function callCommand(
  command: CliCommand,
  args: string[],
  opts: Record<string, unknown> = {},
  json = false,
): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const sink = (append: (s: string) => void) => ({ write: (s: string) => (append(s), true), isTTY: false }) as unknown as NodeJS.WriteStream;
  const reporter = new Reporter(json, false, sink((s) => (out += s)), sink((s) => (err += s)));
  const code = await command.run(args, opts, reporter);
  reporter.finish();
  return { code, out, err };
}
