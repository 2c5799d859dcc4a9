import type { Source } from './source.js';
import type { SourceConfig } from './source-configs.js';

/**
 * Opens the source a pipeline names. `baseDir` anchors relative paths (the pipeline's folder).
 * Each connector is imported when a pipeline uses it: the BigQuery and MySQL clients alone
 * take longer to load than a small incremental run takes to do its work.
 */
export async function createSource(config: SourceConfig, baseDir: string): Promise<Source> {
  switch (config.type) {
    case 'duckdb':
      return (await import('./duckdb/duckdb-source.js')).DuckdbSource.open(config, baseDir);
    case 'bigquery':
      return (await import('./bigquery/bigquery-source.js')).BigquerySource.open(config, baseDir);
    case 'postgres':
      return (await import('./postgres/postgres-source.js')).PostgresSource.open(config, baseDir);
    case 'mysql':
      return (await import('./mysql/mysql-source.js')).MysqlSource.open(config, baseDir);
    case 'files':
      return (await import('./files/files-source.js')).FilesSource.open(config, baseDir);
  }
}
