import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import type { Batch, Schema } from '../../types/logical-type.js';
import type { Model, ReadOptions, Source } from '../source.js';
import { DuckdbSource } from '../duckdb/duckdb-source.js';
import { ConfigError, ModelError } from '../../errors.js';
import type { FilesSourceConfig } from './files-config.js';
import { FILES_VIEW, filesViewSql } from './files-view.js';
import { duckdbInstanceOptions, FILES_AUTO_MEMORY_LIMIT_START_MB } from '../../duckdb/duckdb-memory.js';

/**
 * Parquet, CSV or JSON files read through an in-memory DuckDB. The files appear as one
 * view named `files`: a model is `{ table: files }`, or a query over `files` that
 * filters, renames or casts. Globs are re-expanded on every read, so new files count.
 */
export class FilesSource implements Source {
  readonly kind = 'files';
  private constructor(private readonly duckdb: DuckdbSource) {}

  static async open(config: FilesSourceConfig, baseDir: string): Promise<FilesSource> {
    const viewSql = filesViewSql(config, baseDir);
    const instance = await DuckDBInstance.create(':memory:', duckdbInstanceOptions(config.memory_limit, FILES_AUTO_MEMORY_LIMIT_START_MB));
    const connection = await instance.connect();
    // timestamptz must print in UTC; as in the DuckDB source, the setting is applied after
    // opening, once the ICU extension that owns it can load.
    await connection.run(`SET TimeZone = 'UTC'`);
    try {
      await connection.run(viewSql);
    } catch (e) {
      connection.closeSync();
      instance.closeSync();
      throw new ConfigError(`source.path: cannot read the files: ${(e as Error).message}`);
    }
    return new FilesSource(DuckdbSource.fromConnection(instance, connection));
  }

  async describe(model: Model): Promise<Schema> {
    return this.duckdb.describe(checkModel(model));
  }

  read(model: Model, schema: Schema, opts: ReadOptions): AsyncIterable<Batch> {
    return this.duckdb.read(checkModel(model), schema, opts);
  }

  /** The diff runs on the files directly, with no copy into the workspace. */
  async duckdbRelation(model: Model): Promise<{ connection: DuckDBConnection; sql: string }> {
    return this.duckdb.duckdbRelation(checkModel(model));
  }

  async execute(sql: string): Promise<void> {
    await this.duckdb.execute(sql);
  }

  async close(): Promise<void> {
    await this.duckdb.close();
  }
}

function checkModel(model: Model): Model {
  if ('table' in model && model.table !== FILES_VIEW) {
    throw new ModelError(
      `model.table: a files source exposes its files as the view "${FILES_VIEW}"; ` +
        `use model: { table: ${FILES_VIEW} }, or a query such as SELECT … FROM ${FILES_VIEW}`,
    );
  }
  return model;
}
