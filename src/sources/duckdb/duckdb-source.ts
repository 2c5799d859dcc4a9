import { resolve } from 'node:path';
import { DuckDBInstance, quotedIdentifier, quotedString, type DuckDBConnection } from '@duckdb/node-api';
import type { Batch, Schema } from '../../types/logical-type.js';
import type { Model, ReadOptions, Source } from '../source.js';
import type { DuckdbSourceConfig } from './duckdb-config.js';
import { describeRelation, streamBatches } from '../../duckdb/duckdb-relation.js';
import { ConnectionError, ModelError, OutflowError } from '../../errors.js';
import { duckdbInstanceOptions } from '../../duckdb/duckdb-memory.js';
import type { WarehouseDiff } from '../warehouse-diff.js';
import { duckdbWarehouseDialect } from './duckdb-warehouse-dialect.js';
import { DuckdbWarehouseSql } from './duckdb-warehouse-sql.js';

/** The embedded default: a DuckDB file or in-memory database, with optional setup SQL. */
export class DuckdbSource implements Source {
  readonly kind = 'duckdb';
  readonly warehouseDiff: WarehouseDiff;
  private constructor(
    private readonly instance: DuckDBInstance,
    private readonly connection: DuckDBConnection,
  ) {
    this.warehouseDiff = { dialect: duckdbWarehouseDialect, sql: new DuckdbWarehouseSql(connection) };
  }

  static async open(config: DuckdbSourceConfig, baseDir: string): Promise<DuckdbSource> {
    const path = config.path === ':memory:' ? ':memory:' : resolve(baseDir, config.path);
    let instance: DuckDBInstance;
    try {
      // A read-only warehouse is attached READ_ONLY to an in-memory instance rather than
      // opened read-only itself: a read-only instance could not write the run's temp tables
      // or attach the snapshot file for writing.
      instance = await DuckDBInstance.create(config.read_only ? ':memory:' : path, duckdbInstanceOptions(config.memory_limit));
    } catch (e) {
      throw new ConnectionError(`duckdb source: cannot open ${path}: ${(e as Error).message}`);
    }
    const connection = await instance.connect();
    // Timestamps with time zone are rendered in UTC ('…+00'); set per connection because the
    // ICU extension that owns the setting loads on first use, after the instance's config.
    await connection.run(`SET TimeZone = 'UTC'`);
    if (config.read_only && path !== ':memory:') {
      try {
        await connection.run(`ATTACH ${quotedString(path)} AS warehouse (READ_ONLY)`);
        await connection.run('USE warehouse');
      } catch (e) {
        throw new ConnectionError(`duckdb source: cannot open ${path} read-only: ${(e as Error).message}`);
      }
    }
    // Relative paths in setup SQL (read_csv('data.csv')) resolve from the pipeline's folder.
    await connection.run(`SET file_search_path = ${quotedString(baseDir)}`);
    const setup = config.setup === undefined ? [] : Array.isArray(config.setup) ? config.setup : [config.setup];
    for (const sql of setup) {
      try {
        await connection.run(sql);
      } catch (e) {
        throw new ConnectionError(`duckdb source: setup SQL failed: ${(e as Error).message}`);
      }
    }
    return new DuckdbSource(instance, connection);
  }

  /** Wraps an existing connection (tests, and the files source). */
  static fromConnection(instance: DuckDBInstance, connection: DuckDBConnection): DuckdbSource {
    return new DuckdbSource(instance, connection);
  }

  async describe(model: Model): Promise<Schema> {
    // The user's query is prepared on its own first: a mistake in it is then reported with
    // DuckDB's line and caret pointing into the user's SQL, not into outflow's wrapper.
    if ('query' in model) {
      try {
        (await this.connection.prepare(model.query.trim().replace(/;\s*$/, ''))).destroySync();
      } catch (e) {
        throw new ModelError((e as Error).message);
      }
    }
    try {
      return await describeRelation(this.connection, relationSql(model));
    } catch (e) {
      if (e instanceof OutflowError) throw e;
      throw new ModelError((e as Error).message);
    }
  }

  read(model: Model, schema: Schema, opts: ReadOptions): AsyncIterable<Batch> {
    const sql = `SELECT * FROM ${relationSql(model)}`;
    if (opts.cursor?.after === undefined) return streamBatches(this.connection, sql, schema, opts.batchSize);
    const filtered = `${sql} WHERE ${quotedIdentifier(opts.cursor.column)} > $1`;
    return streamBatches(this.connection, filtered, schema, opts.batchSize, [opts.cursor.after]);
  }

  async duckdbRelation(model: Model): Promise<{ connection: DuckDBConnection; sql: string }> {
    return { connection: this.connection, sql: relationSql(model) };
  }

  async execute(sql: string): Promise<void> {
    await this.connection.run(sql);
  }

  async close(): Promise<void> {
    this.connection.closeSync();
    this.instance.closeSync();
  }
}

/** A model as a parenthesised relation usable after FROM. */
export function relationSql(model: Model): string {
  if ('query' in model) return `(${model.query.trim().replace(/;\s*$/, '')}) AS model`;
  return `${model.table.split('.').map(quotedIdentifier).join('.')} AS model`;
}
