import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { resolve } from 'node:path';

const ROOT = resolve(__dirname, '../..');
/**
 * A private build of the CLI, so a concurrent `npm run build` rewriting dist/ cannot change
 * the code under test halfway through a suite. It sits inside the repository (test-artifacts/
 * is git-ignored) so the emitted files still resolve packages from node_modules.
 */
const OUT = resolve(ROOT, 'test-artifacts', `cli-${process.pid}`);
// tsconfig's rootDir is the repository, so src/cli/main.ts is emitted to <out>/src/cli/main.js.
export const CLI = resolve(OUT, 'src/cli/main.js');

/** Compiles the CLI once per test file. tsc emits even when some file fails to type-check. */
export function buildCli(): void {
  rmSync(OUT, { recursive: true, force: true });
  try {
    execFileSync(process.execPath, [resolve(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json', '--outDir', OUT, '--sourceMap', 'false'], {
      cwd: ROOT,
      stdio: 'pipe',
    });
  } catch {
    // type errors elsewhere in the tree still leave emitted files
  }
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing after the build`);
}

export function removeCliBuild(): void {
  rmSync(OUT, { recursive: true, force: true });
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliRun {
  child: ChildProcess;
  done: Promise<CliResult>;
}

export function startCli(args: string[], env: Record<string, string | undefined> = {}): CliRun {
  const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  const done = new Promise<CliResult>((res) => child.on('close', (code, signal) => res({ code, signal, stdout, stderr })));
  return { child, done };
}

export async function runCli(args: string[], env: Record<string, string | undefined> = {}): Promise<CliResult> {
  return startCli(args, env).done;
}

/**
 * Starts `outflow run` paused at `point` and resolves once it is waiting there, or with the
 * finished result when the run ended without reaching the point.
 */
export async function startPaused(args: string[], point: string, pauseFile: string): Promise<{ run: CliRun; paused: boolean; result?: CliResult }> {
  const run = startCli(args, { OUTFLOW_TEST_PAUSE_AT: point, OUTFLOW_TEST_PAUSE_FILE: pauseFile });
  let finished: CliResult | undefined;
  void run.done.then((r) => (finished = r));
  const deadline = Date.now() + 90_000;
  while (Date.now() < deadline) {
    if (existsSync(pauseFile) && readFileSync(pauseFile, 'utf8').includes(point)) return { run, paused: true };
    if (finished) return { run, paused: false, result: finished };
    await new Promise((r) => setTimeout(r, 25));
  }
  run.child.kill('SIGKILL');
  throw new Error(`outflow did not reach pause point ${point} within 90 s`);
}

/** SIGKILL: no handler runs, no lock is released, no transaction is committed. */
export async function killHard(run: CliRun): Promise<CliResult> {
  run.child.kill('SIGKILL');
  return run.done;
}
