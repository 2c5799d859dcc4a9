import type { Batch, Schema } from '../types/logical-type.js';
import type { DuckDBConnection } from '@duckdb/node-api';
import type { WarehouseDiff } from './warehouse-diff.js';

/** A model is either a table (optionally schema-qualified) or a query in the source's SQL. */
export type Model = { table: string } | { query: string };

export interface ReadOptions {
  /** Rows per batch; sources may round to their natural unit (a DuckDB chunk, a BigQuery page). */
  batchSize: number;
  /** Incremental cursor: only rows whose `column` is greater than `after` (text form). */
  cursor?: { column: string; after?: string };
  signal?: AbortSignal;
  /** Called once, when the source learns how many rows the read will yield (BigQuery's totalRows); feeds the progress bar. */
  onTotal?: (rows: number) => void;
}

/**
 * A source reads a model. `describe` reads no rows; `read` streams bounded batches whose
 * values follow the conventions in types/logical-type.ts.
 */
export interface Source {
  readonly kind: string;
  describe(model: Model): Promise<Schema>;
  read(model: Model, schema: Schema, opts: ReadOptions): AsyncIterable<Batch>;
  /**
   * Sources that are DuckDB underneath (duckdb, files) expose the model as a SQL relation
   * on a DuckDB connection, so the diff can run on the model itself with no copy.
   */
  duckdbRelation?(model: Model): Promise<{ connection: DuckDBConnection; sql: string }>;
  /**
   * Sources whose warehouse can diff the model against a snapshot kept in the warehouse
   * itself (`diff: warehouse`): its SQL dialect and a way to run it.
   */
  readonly warehouseDiff?: WarehouseDiff;
  /** Run a user action on the source (actions with `on: source`). */
  execute?(sql: string): Promise<void>;
  close(): Promise<void>;
}
