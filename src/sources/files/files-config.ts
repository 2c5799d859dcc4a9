import { z } from 'zod';

export const filesSourceConfig = z.strictObject({
  type: z.literal('files'),
  /**
   * A glob or list of globs, relative to the pipeline's folder (data/*.parquet,
   * events/**\/*.parquet). A folder alone reads every file of `format` below it.
   */
  path: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]),
  /** Defaults to the extension of the first path (.parquet, .csv/.tsv, .json/.jsonl/.ndjson, optionally .gz). */
  format: z.enum(['parquet', 'csv', 'json']).optional(),
  /** Read key=value folders as columns. Unset: DuckDB detects them from the paths. */
  hive_partitioning: z.boolean().optional(),
  /** CSV: whether the first line names the columns. Unset: detected. */
  header: z.boolean().optional(),
  /** CSV: the field separator. Unset: detected. */
  delimiter: z.string().min(1).max(4).optional(),
  /** DuckDB memory_limit (e.g. 256MB). Unset: automatic, starting at 128MB (see duckdb-memory.ts). */
  memory_limit: z.string().optional(),
});
export type FilesSourceConfig = z.infer<typeof filesSourceConfig>;
