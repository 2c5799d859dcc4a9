import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * DuckDB's buffer-pool limit for the instances outflow opens on a DuckDB source and for
 * the workspace of other sources. Measured with the bench's 5M-row model (bench/): at
 * 512MB a full sync's peak RSS grew with the model (233 MB at 1M → 632 MB at 5M); at
 * 128MB it was ~320 MB at 5M; at 64MB ~230 MB, and the diff's join runs faster (0.37 s
 * against 0.64 s: it partitions up front instead of filling memory first). DuckDB spills
 * the rest to the temp folder. `memory_limit` in a source's config overrides it.
 */
export const DEFAULT_DUCKDB_MEMORY_LIMIT = '64MB';

/**
 * The files source reads CSV and JSON, whose DuckDB readers take a 30.5 MiB buffer per
 * thread: at 64MB a CSV of more than ~32 MB fails ("could not allocate block of size 30.5 MiB").
 */
export const FILES_DUCKDB_MEMORY_LIMIT = '128MB';

/** A hint for DuckDB's out-of-memory error: which setting to raise. */
export function duckdbMemoryHint(message: string, limit: string | undefined): string | undefined {
  if (!/Out of Memory Error/i.test(message)) return undefined;
  return `DuckDB reached its memory_limit (${limit ?? DEFAULT_DUCKDB_MEMORY_LIMIT}); raise source.memory_limit in the pipeline file (reading a large CSV or JSON file in the model needs 128MB or more)`;
}

let spillDir: string | undefined;

/**
 * Instance options with a bounded memory limit and a private spill folder: without a
 * temp_directory an in-memory instance cannot spill and fails once it reaches the limit.
 * One folder per process, removed at exit, so two outflow processes never share spill files.
 */
export function duckdbInstanceOptions(memoryLimit: string = DEFAULT_DUCKDB_MEMORY_LIMIT): Record<string, string> {
  if (!spillDir) {
    const dir = join(tmpdir(), `outflow-spill-${process.pid}`);
    spillDir = dir;
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  }
  return { memory_limit: memoryLimit, temp_directory: spillDir };
}
