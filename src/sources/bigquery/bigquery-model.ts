import { ConfigError, SchemaMismatchError } from '../../errors.js';
import type { Schema } from '../../types/logical-type.js';
import { parameterTypeFor } from './bigquery-types.js';

export interface TableRef {
  projectId: string;
  datasetId: string;
  tableId: string;
}

/**
 * `table`, `dataset.table` or `project.dataset.table` (backticks allowed). Domain-scoped
 * project ids contain a dot themselves (`example.com:proj`), so the project is everything
 * before the last two parts.
 */
export function parseTableRef(name: string, defaultProject: string, defaultDataset: string | undefined): TableRef {
  const parts = name.replace(/`/g, '').split('.');
  if (parts.some((p) => p === '')) throw new ConfigError(`bigquery source: model.table "${name}" is not a table name`);
  if (parts.length === 1) {
    if (!defaultDataset) {
      throw new ConfigError(`bigquery source: model.table "${name}" names no dataset; write dataset.table or set source.dataset`);
    }
    return { projectId: defaultProject, datasetId: defaultDataset, tableId: parts[0] };
  }
  if (parts.length === 2) return { projectId: defaultProject, datasetId: parts[0], tableId: parts[1] };
  return { projectId: parts.slice(0, -2).join('.'), datasetId: parts[parts.length - 2], tableId: parts[parts.length - 1] };
}

export function formatTableRef(ref: TableRef): string {
  return `${ref.projectId}.${ref.datasetId}.${ref.tableId}`;
}

/** A GoogleSQL quoted identifier. */
export function quoteIdentifier(name: string): string {
  return '`' + name.replace(/\\/g, '\\\\').replace(/`/g, '\\`') + '`';
}

export function tableSql(ref: TableRef): string {
  return `SELECT * FROM ${quoteIdentifier(ref.projectId)}.${quoteIdentifier(ref.datasetId)}.${quoteIdentifier(ref.tableId)}`;
}

/** The user's query without a trailing semicolon, so it can be wrapped in a subquery. */
export function querySql(query: string): string {
  return query.trim().replace(/;\s*$/, '');
}

export const CURSOR_PARAMETER = 'outflow_cursor';

export interface QueryParameter {
  name: string;
  parameterType: { type: string };
  parameterValue: { value: string };
}

/**
 * The incremental read: the model filtered to rows past the cursor, with the cursor value
 * as a typed named parameter (never spliced into the SQL text).
 */
export function cursorQuery(
  modelSql: string,
  schema: Schema,
  cursor: { column: string; after: string },
): { sql: string; parameters: QueryParameter[] } {
  const column = schema.columns.find((c) => c.name === cursor.column);
  if (!column) throw new SchemaMismatchError(`bigquery source: cursor column "${cursor.column}" is not a model column`);
  return {
    sql: `SELECT * FROM (${modelSql}) WHERE ${quoteIdentifier(cursor.column)} > @${CURSOR_PARAMETER}`,
    parameters: [{ name: CURSOR_PARAMETER, parameterType: { type: parameterTypeFor(column.type) }, parameterValue: { value: cursor.after } }],
  };
}
