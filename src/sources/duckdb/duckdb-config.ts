import { z } from 'zod';

export const duckdbSourceConfig = z.strictObject({
  type: z.literal('duckdb'),
  /** A DuckDB database file; ':memory:' (the default) for an in-memory warehouse. */
  path: z.string().default(':memory:'),
  /** Open the file read-only (a warehouse outflow must not write to). */
  read_only: z.boolean().default(false),
  /** SQL run once after opening, e.g. CREATE VIEW … AS SELECT * FROM read_csv('…'). */
  setup: z.union([z.string(), z.array(z.string())]).optional(),
  /**
   * DuckDB memory_limit (e.g. 256MB): beyond it DuckDB spills to disk. Unset: automatic,
   * starting at 64MB and raised when DuckDB runs out (see duckdb-memory.ts).
   */
  memory_limit: z.string().optional(),
});
export type DuckdbSourceConfig = z.infer<typeof duckdbSourceConfig>;
