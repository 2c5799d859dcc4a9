import {
  DuckDBBlobValue,
  DuckDBListValue,
  quotedIdentifier,
  type DuckDBConnection,
  type DuckDBValue,
} from '@duckdb/node-api';
import type { Batch, Column, LogicalType, Schema, Value } from '../types/logical-type.js';
import { logicalFromDuckdb } from '../types/duckdb-types.js';
import { SchemaMismatchError } from '../errors.js';

/** Columns and logical types of any DuckDB relation, read with DESCRIBE (no rows read). */
export async function describeRelation(connection: DuckDBConnection, relation: string): Promise<Schema> {
  const reader = await connection.runAndReadAll(`DESCRIBE SELECT * FROM ${relation}`);
  const columns: Column[] = [];
  for (const row of reader.getRowObjects()) {
    const name = String(row.column_name);
    const mapped = logicalFromDuckdb(String(row.column_type));
    if ('unsupported' in mapped) {
      throw new SchemaMismatchError(`model column "${name}": ${mapped.unsupported}`);
    }
    columns.push({ name, type: mapped, nullable: row.null !== 'NO' });
  }
  return { columns };
}

/**
 * A SELECT list that turns each column into the JS value convention of logical-type.ts
 * inside DuckDB (vectorised), so the JS side only unwraps blobs and lists.
 */
export function canonicalSelectList(schema: Schema): string {
  return schema.columns.map((c) => `${canonicalExpr(quotedIdentifier(c.name), c.type)} AS ${quotedIdentifier(c.name)}`).join(', ');
}

function canonicalExpr(expr: string, t: LogicalType): string {
  switch (t.kind) {
    case 'decimal':
    case 'date':
    case 'time':
    case 'timestamp':
    case 'interval':
    case 'uuid':
      return `CAST(${expr} AS VARCHAR)`;
    case 'json':
      // STRUCT and MAP columns are carried as json: to_json gives JSON text, where a plain
      // cast would give DuckDB's literal syntax ({'k': 0}).
      return `CAST(to_json(${expr}) AS VARCHAR)`;
    case 'timestamptz':
      // The workspace runs with TimeZone=UTC, so the text form ends in +00.
      return `CAST(${expr} AS VARCHAR)`;
    case 'array':
      return needsCanonical(t.element) ? `list_transform(${expr}, x -> ${canonicalExpr('x', t.element)})` : expr;
    default:
      return expr;
  }
}

function needsCanonical(t: LogicalType): boolean {
  return !['int16', 'int32', 'int64', 'float32', 'float64', 'text', 'bool', 'bytes'].includes(t.kind);
}

export function fromDuckdbValue(v: DuckDBValue): Value {
  if (v === null || typeof v !== 'object') return v as Value;
  if (v instanceof DuckDBBlobValue) return v.bytes;
  if (v instanceof DuckDBListValue) return v.items.map(fromDuckdbValue);
  return String(v);
}

/** Streams a query as Batches of about `batchSize` rows, chunk by chunk. */
export async function* streamBatches(
  connection: DuckDBConnection,
  selectSql: string,
  schema: Schema,
  batchSize: number,
  params?: DuckDBValue[],
): AsyncIterable<Batch> {
  const sql = `SELECT ${canonicalSelectList(schema)} FROM (${selectSql}) AS q`;
  const result = await connection.stream(sql, params);
  let rows: Value[][] = [];
  for (;;) {
    const chunk = await result.fetchChunk();
    if (!chunk || chunk.rowCount === 0) break;
    for (const r of chunk.getRows()) rows.push(r.map(fromDuckdbValue));
    if (rows.length >= batchSize) {
      yield { rows };
      rows = [];
    }
  }
  if (rows.length > 0) yield { rows };
}
