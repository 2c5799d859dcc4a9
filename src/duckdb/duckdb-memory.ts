import type { DuckDBConnection } from '@duckdb/node-api';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * DuckDB's buffer pool, for the instances outflow opens on a DuckDB or files source and
 * for the workspace of other sources. Unless a source sets `memory_limit`, the limit is
 * automatic: it starts small and doubles when DuckDB runs out (the run is attempted again,
 * see runPipeline), up to AUTO_MEMORY_LIMIT_MAX_MB.
 *
 * Measured with the bench's 5M-row model (bench/): at 512MB a full sync's peak RSS grew
 * with the model (233 MB at 1M → 632 MB at 5M); at 128MB it was ~320 MB at 5M, at 64MB
 * ~230 MB, and the diff's join ran faster (0.37 s against 0.64 s). But 64MB is not enough
 * for everything: DuckDB's CSV and JSON readers take a 30.5 MiB buffer per thread (a CSV
 * over ~32 MB fails), and a delta of millions of changed rows failed to stream at 64MB
 * where 128MB passed. Growing on demand keeps the usual run small and the unusual one working.
 */
export const AUTO_MEMORY_LIMIT_START_MB = 64;
/** The files source reads CSV and JSON: it starts where those readers fit. */
export const FILES_AUTO_MEMORY_LIMIT_START_MB = 128;
export const AUTO_MEMORY_LIMIT_MAX_MB = 1024;

/**
 * Per process: once a model needed more, later instances start there (the next attempt,
 * and in `serve` later runs), so a large model does not fail its way up on every run.
 */
let autoLimitMb = AUTO_MEMORY_LIMIT_START_MB;

let spillDir: string | undefined;

/**
 * Instance options with a bounded memory limit and a private spill folder: without a
 * temp_directory an in-memory instance cannot spill and fails once it reaches the limit.
 * One folder per process, removed at exit, so two outflow processes never share spill files.
 */
export function duckdbInstanceOptions(memoryLimit?: string, autoStartMb = AUTO_MEMORY_LIMIT_START_MB): Record<string, string> {
  if (!spillDir) {
    const dir = join(tmpdir(), `outflow-spill-${process.pid}`);
    spillDir = dir;
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  }
  return { memory_limit: memoryLimit ?? `${Math.max(autoLimitMb, autoStartMb)}MB`, temp_directory: spillDir };
}

/** The automatic limit now, in MB (what a run that needed more has raised it to). */
export function autoMemoryLimitMb(): number {
  return autoLimitMb;
}

/**
 * Starts from what an earlier run of the pipeline needed (kept in its snapshot's meta), so
 * a model that needs more does not fail its way up again in every new process. Returns the
 * new limit when it was raised.
 */
export function adoptAutoMemoryLimit(mb: number): string | undefined {
  const target = Math.min(Math.floor(mb), AUTO_MEMORY_LIMIT_MAX_MB);
  if (!(target > autoLimitMb)) return undefined;
  autoLimitMb = target;
  return `${autoLimitMb}MB`;
}

/** Doubles the automatic limit; undefined when it is already at its maximum. */
export function raiseAutoMemoryLimit(): string | undefined {
  if (autoLimitMb >= AUTO_MEMORY_LIMIT_MAX_MB) return undefined;
  autoLimitMb = Math.min(autoLimitMb * 2, AUTO_MEMORY_LIMIT_MAX_MB);
  return `${autoLimitMb}MB`;
}

/** How DuckDB's out-of-memory errors begin ("Out of Memory Error: could not allocate block…"). */
const DUCKDB_OUT_OF_MEMORY = /Out of Memory Error/;

/** DuckDB's out-of-memory error, wherever it was wrapped. */
export function isDuckdbOutOfMemory(e: unknown): boolean {
  for (let x = e, depth = 0; x instanceof Error && depth < 5; x = x.cause, depth++) {
    if (DUCKDB_OUT_OF_MEMORY.test(x.message)) return true;
  }
  return false;
}

/** A hint for DuckDB's out-of-memory error: which setting to raise. */
export function duckdbMemoryHint(message: string, configured: string | undefined): string | undefined {
  if (!DUCKDB_OUT_OF_MEMORY.test(message)) return undefined;
  return configured
    ? `DuckDB reached source.memory_limit (${configured}); raise it in the pipeline file, or remove it to let outflow raise the limit as needed`
    : `DuckDB needed more than ${AUTO_MEMORY_LIMIT_MAX_MB}MB; set source.memory_limit in the pipeline file`;
}

/**
 * The out-of-memory policy, in one place: when `e` is DuckDB running out of memory under
 * the automatic limit (no `configured` limit), the limit doubles and the new one is
 * returned, and the caller attempts the run again (not counted as a retry: nothing is
 * wrong with a connection). Undefined otherwise, or at the maximum.
 */
export function raisedMemoryLimitAfter(e: unknown, configured: string | undefined): string | undefined {
  return !configured && isDuckdbOutOfMemory(e) ? raiseAutoMemoryLimit() : undefined;
}

/** Starts a connection at the automatic limit an earlier run needed (kept in the snapshot meta). */
export async function adoptLearnedMemoryLimit(connection: DuckDBConnection, learnedMb: number | undefined, configured: string | undefined): Promise<void> {
  const learned = !configured && learnedMb ? adoptAutoMemoryLimit(learnedMb) : undefined;
  if (learned) await connection.run(`SET memory_limit = '${learned}'`);
}

/** The automatic limit to remember in the snapshot meta; undefined when the source sets one. */
export function memoryLimitToRemember(configured: string | undefined): number | undefined {
  return configured ? undefined : autoLimitMb;
}

/** An error message, shortened and given the setting to change when DuckDB ran out of memory. */
export function withDuckdbMemoryHint(message: string, configured: string | undefined): string {
  const hint = duckdbMemoryHint(message, configured);
  // DuckDB's message goes on for lines of generic advice; its first line and the setting to change are what helps.
  return hint ? `${message.split('\n')[0]} — ${hint}` : message;
}
