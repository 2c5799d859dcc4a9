import { z } from 'zod';
import { duckdbSourceConfig } from './duckdb/duckdb-config.js';
import { postgresSourceConfig } from './postgres/postgres-config.js';
import { mysqlSourceConfig } from './mysql/mysql-config.js';
import { filesSourceConfig } from './files/files-config.js';
import { bigquerySourceConfig } from './bigquery/bigquery-config.js';

/**
 * Every source's config schema, discriminated by `type`. A new source adds its schema
 * here and its factory in sources/create-source.ts.
 */
export const sourceConfig = z.discriminatedUnion('type', [
  duckdbSourceConfig,
  postgresSourceConfig,
  mysqlSourceConfig,
  filesSourceConfig,
  bigquerySourceConfig,
]);
export type SourceConfig = z.infer<typeof sourceConfig>;
