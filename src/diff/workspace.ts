import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import type { Model, Source } from '../sources/source.js';
import type { Schema } from '../types/logical-type.js';
import { loadBatchesIntoDuckdb } from './model-loader.js';

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
  cursor?: { column: string; after?: string };
  onRows?: (n: number) => void;
}

export async function openWorkspace(source: Source, model: Model, schema: Schema, opts: WorkspaceOptions): Promise<Workspace> {
  if (source.duckdbRelation) {
    const { connection, sql } = await source.duckdbRelation(model);
    return { connection, relation: sql, close: async () => undefined };
  }
  const spill = join(opts.stateDir, 'tmp');
  mkdirSync(spill, { recursive: true });
  // Bounded memory: DuckDB spills to the state folder rather than growing the process.
  const instance = await DuckDBInstance.create(':memory:', { memory_limit: '512MB', temp_directory: spill });
  const connection = await instance.connect();
  await connection.run(`SET TimeZone = 'UTC'`); // timestamptz text in UTC ('…+00')
  await loadBatchesIntoDuckdb(
    connection,
    'outflow_model',
    schema,
    source.read(model, schema, { batchSize: opts.batchSize, cursor: opts.cursor }),
    opts.onRows,
  );
  return {
    connection,
    relation: 'temp.main.outflow_model AS model',
    close: async () => {
      connection.closeSync();
      instance.closeSync();
    },
  };
}
