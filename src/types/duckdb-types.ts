import type { LogicalType } from './logical-type.js';

/**
 * DuckDB type names (as DESCRIBE prints them) → outflow logical types. Types outflow
 * cannot carry faithfully return undefined with a reason, and the caller refuses them.
 */
export function logicalFromDuckdb(typeName: string): LogicalType | { unsupported: string } {
  const t = typeName.trim().toUpperCase();
  if (t.endsWith('[]')) {
    const inner = logicalFromDuckdb(t.slice(0, -2));
    return 'unsupported' in inner ? inner : { kind: 'array', element: inner };
  }
  const dec = /^DECIMAL\((\d+),\s*(\d+)\)$/.exec(t);
  if (dec) return { kind: 'decimal', precision: Number(dec[1]), scale: Number(dec[2]) };
  if (/^(STRUCT|MAP|UNION)\b/.test(t) || /^[A-Z]+\[\d+\]$/.test(t)) return { kind: 'json' };
  if (/^ENUM\(/.test(t)) return { kind: 'text' };
  switch (t) {
    case 'TINYINT':
    case 'SMALLINT':
    case 'UTINYINT':
      return { kind: 'int16' };
    case 'INTEGER':
    case 'USMALLINT':
      return { kind: 'int32' };
    case 'BIGINT':
    case 'UINTEGER':
      return { kind: 'int64' };
    case 'UBIGINT':
      return { kind: 'decimal', precision: 20, scale: 0 };
    case 'HUGEINT':
    case 'UHUGEINT':
      return { kind: 'decimal', precision: 39, scale: 0 };
    case 'FLOAT':
      return { kind: 'float32' };
    case 'DOUBLE':
      return { kind: 'float64' };
    case 'VARCHAR':
      return { kind: 'text' };
    case 'BOOLEAN':
      return { kind: 'bool' };
    case 'DATE':
      return { kind: 'date' };
    case 'TIME':
      return { kind: 'time' };
    case 'TIMESTAMP':
    case 'TIMESTAMP_S':
    case 'TIMESTAMP_MS':
      return { kind: 'timestamp' };
    case 'TIMESTAMP WITH TIME ZONE':
      return { kind: 'timestamptz' };
    case 'INTERVAL':
      return { kind: 'interval' };
    case 'UUID':
      return { kind: 'uuid' };
    case 'JSON':
      return { kind: 'json' };
    case 'BLOB':
      return { kind: 'bytes' };
    case 'TIMESTAMP_NS':
      return { unsupported: 'TIMESTAMP_NS has nanoseconds; Postgres keeps microseconds (cast it to TIMESTAMP in the model)' };
    case 'TIME WITH TIME ZONE':
      return { unsupported: 'TIME WITH TIME ZONE is not carried; cast it to TIME or TIMESTAMPTZ in the model' };
    case 'BIT':
      return { unsupported: 'BIT is not carried; cast it to VARCHAR in the model' };
    default:
      return { unsupported: `DuckDB type ${typeName} is not supported` };
  }
}

/** Logical type → the DuckDB type outflow uses to hold it in its workspace. */
export function duckdbTypeFor(t: LogicalType): string {
  switch (t.kind) {
    case 'int16':
      return 'SMALLINT';
    case 'int32':
      return 'INTEGER';
    case 'int64':
      return 'BIGINT';
    case 'float32':
      return 'FLOAT';
    case 'float64':
      return 'DOUBLE';
    case 'decimal':
      // DuckDB decimals stop at 38 digits; wider ones travel as exact text.
      return t.precision <= 38 ? `DECIMAL(${t.precision},${t.scale})` : 'VARCHAR';
    case 'text':
      return 'VARCHAR';
    case 'bool':
      return 'BOOLEAN';
    case 'date':
      return 'DATE';
    case 'time':
      return 'TIME';
    case 'timestamp':
      return 'TIMESTAMP';
    case 'timestamptz':
      return 'TIMESTAMPTZ';
    case 'interval':
      return 'INTERVAL';
    case 'uuid':
      return 'UUID';
    case 'json':
      return 'JSON';
    case 'bytes':
      return 'BLOB';
    case 'array':
      return `${duckdbTypeFor(t.element)}[]`;
  }
}
