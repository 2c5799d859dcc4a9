import type { Source } from './source.js';
import type { SourceConfig } from './source-configs.js';
import { DuckdbSource } from './duckdb/duckdb-source.js';
import { BigquerySource } from './bigquery/bigquery-source.js';
import { PostgresSource } from './postgres/postgres-source.js';
import { MysqlSource } from './mysql/mysql-source.js';
import { FilesSource } from './files/files-source.js';

/** Opens the source a pipeline names. `baseDir` anchors relative paths (the pipeline's folder). */
export async function createSource(config: SourceConfig, baseDir: string): Promise<Source> {
  switch (config.type) {
    case 'duckdb':
      return DuckdbSource.open(config, baseDir);
    case 'bigquery':
      return BigquerySource.open(config, baseDir);
    case 'postgres':
      return PostgresSource.open(config, baseDir);
    case 'mysql':
      return MysqlSource.open(config, baseDir);
    case 'files':
      return FilesSource.open(config, baseDir);
  }
}
