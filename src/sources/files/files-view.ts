import { statSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { quotedIdentifier, quotedString } from '@duckdb/node-api';
import { ConfigError } from '../../errors.js';
import type { FilesSourceConfig } from './files-config.js';

/** The one view a files source exposes; models read `files` or query it. */
export const FILES_VIEW = 'files';

type FileFormat = NonNullable<FilesSourceConfig['format']>;

const EXTENSIONS: Record<FileFormat, string> = { parquet: 'parquet', csv: 'csv', json: 'json*' };

/** The CREATE VIEW statement over read_parquet / read_csv / read_json for the configured files. */
export function filesViewSql(config: FilesSourceConfig, baseDir: string): string {
  const patterns = Array.isArray(config.path) ? config.path : [config.path];
  const format = config.format ?? formatFromExtension(patterns[0]);
  const paths = patterns.map((p) => resolvePattern(p, baseDir, format));
  const args = [`[${paths.map(quotedString).join(', ')}]`];
  if (config.hive_partitioning !== undefined) args.push(`hive_partitioning = ${config.hive_partitioning}`);
  let reader: string;
  switch (format) {
    case 'parquet':
      reader = 'read_parquet';
      break;
    case 'csv':
      reader = 'read_csv';
      if (config.header !== undefined) args.push(`header = ${config.header}`);
      if (config.delimiter !== undefined) args.push(`delim = ${quotedString(config.delimiter)}`);
      break;
    case 'json':
      // 'auto' reads newline-delimited JSON and also a file holding one top-level array.
      reader = 'read_json';
      args.push(`format = 'auto'`);
      break;
  }
  if (format !== 'csv' && (config.header !== undefined || config.delimiter !== undefined)) {
    throw new ConfigError(`source.header / source.delimiter: only apply to csv files, not ${format}`);
  }
  return `CREATE OR REPLACE VIEW ${quotedIdentifier(FILES_VIEW)} AS SELECT * FROM ${reader}(${args.join(', ')})`;
}

export function formatFromExtension(pattern: string): FileFormat {
  const name = pattern.toLowerCase().replace(/\.(gz|zst)$/, '');
  if (/\.(parquet|pq)$/.test(name)) return 'parquet';
  if (/\.(csv|tsv)$/.test(name)) return 'csv';
  if (/\.(json|jsonl|ndjson)$/.test(name)) return 'json';
  throw new ConfigError(
    `source.format: cannot tell the format of "${pattern}" from its extension; set format: parquet, csv or json`,
  );
}

/** Relative globs resolve from the pipeline's folder; a folder becomes every file of the format below it. */
function resolvePattern(pattern: string, baseDir: string, format: FileFormat): string {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(pattern)) return pattern; // s3://, https://: DuckDB's business
  const abs = isAbsolute(pattern) ? pattern : resolve(baseDir, pattern);
  if (isDirectory(abs)) return `${abs}/**/*.${EXTENSIONS[format]}`;
  return abs;
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false; // a glob, or a file that does not exist yet: DuckDB reports it
  }
}
