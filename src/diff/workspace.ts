import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import type { Model, Source } from '../sources/source.js';
import type { Schema } from '../types/logical-type.js';
import { loadBatchesIntoDuckdb } from './model-loader.js';
import { duckdbInstanceOptions } from '../duckdb/duckdb-memory.js';

/**
 * The DuckDB connection where the diff runs and the model as a relation on it. A DuckDB
 * or files source lends its own connection (the diff runs on the model itself); any other
 * source streams the model into a temp table of a private in-memory DuckDB first.
 */
export interface Workspace {
  connection: DuckDBConnection;
  /** SQL usable after FROM. */
  relation: string;
  close(): Promise<void>;
}

export interface WorkspaceOptions {
  stateDir: string;
  batchSize: number;
  /** Read after `beforeLoad`: only rows past the cursor are read from a non-DuckDB source. */
  cursor?: () => { column: string; after?: string } | undefined;
  /** Runs on the workspace connection before the model is loaded (attaching the snapshot, whose meta holds the cursor). */
  beforeLoad?: (connection: DuckDBConnection) => Promise<void>;
  onRows?: (n: number) => void;
  /** The row count the source announced before reading, when it knows one. */
  onTotal?: (rows: number) => void;
}

export async function openWorkspace(source: Source, model: Model, schema: Schema, opts: WorkspaceOptions): Promise<Workspace> {
  if (source.duckdbRelation) {
    const { connection, sql } = await source.duckdbRelation(model);
    await opts.beforeLoad?.(connection);
    return { connection, relation: sql, close: async () => undefined };
  }
  const { connection, close } = await openScratchWorkspace();
  try {
    await opts.beforeLoad?.(connection);
    await loadBatchesIntoDuckdb(
      connection,
      'outflow_model',
      schema,
      source.read(model, schema, { batchSize: opts.batchSize, cursor: opts.cursor?.(), onTotal: opts.onTotal }),
      opts.onRows,
    );
  } catch (e) {
    // Closing releases the attached snapshot file, which the next run must be able to open.
    await close();
    throw e;
  }
  return { connection, relation: 'temp.main.outflow_model AS model', close };
}

/**
 * A private in-memory DuckDB for rows that come from elsewhere (a source that is not
 * DuckDB, a warehouse diff's partition). Bounded memory: DuckDB spills to disk rather than
 * growing the process.
 */
export async function openScratchWorkspace(): Promise<Workspace> {
  const instance = await DuckDBInstance.create(':memory:', duckdbInstanceOptions());
  const connection = await instance.connect();
  const close = async () => {
    connection.closeSync();
    instance.closeSync();
  };
  await connection.run(`SET TimeZone = 'UTC'`); // timestamptz text in UTC ('…+00')
  return { connection, relation: 'temp.main.outflow_model AS model', close };
}
