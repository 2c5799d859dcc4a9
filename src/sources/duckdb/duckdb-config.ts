import { z } from 'zod';
import { DEFAULT_DUCKDB_MEMORY_LIMIT } from './duckdb-memory.js';

export const duckdbSourceConfig = z.strictObject({
  type: z.literal('duckdb'),
  /** A DuckDB database file; ':memory:' (the default) for an in-memory warehouse. */
  path: z.string().default(':memory:'),
  /** Open the file read-only (a warehouse outflow must not write to). */
  read_only: z.boolean().default(false),
  /** SQL run once after opening, e.g. CREATE VIEW … AS SELECT * FROM read_csv('…'). */
  setup: z.union([z.string(), z.array(z.string())]).optional(),
  /** DuckDB memory_limit, so large models spill to disk instead of growing the process. */
  memory_limit: z.string().default(DEFAULT_DUCKDB_MEMORY_LIMIT),
});
export type DuckdbSourceConfig = z.infer<typeof duckdbSourceConfig>;
