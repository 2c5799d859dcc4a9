import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * DuckDB's buffer-pool limit for every instance outflow opens. Measured with the bench's
 * 1M- and 5M-row models (bench/): at 512MB a full sync's peak RSS grew with the model
 * (233 MB → 632 MB); at 128MB it is 223 MB → 317 MB and runs as fast, since
 * the diff spills its hash tables to disk. Lower limits (48MB: ~215 MB at 5M) fail on
 * DuckDB's CSV/JSON readers, which allocate 32 MiB buffers, so 128MB is the default;
 * `memory_limit` in a source's config overrides it.
 */
export const DEFAULT_DUCKDB_MEMORY_LIMIT = '128MB';

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
