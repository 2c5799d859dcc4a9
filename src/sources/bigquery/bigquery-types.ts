import type { Column, LogicalType, Schema } from '../../types/logical-type.js';
import { SchemaMismatchError } from '../../errors.js';

/** A column of a BigQuery REST schema (`schema.fields[]`), as tables.get and jobs.getQueryResults return it. */
export interface BigqueryField {
  name: string;
  /** Legacy names (INTEGER, FLOAT, BOOLEAN, RECORD) in responses; GoogleSQL names are accepted too. */
  type: string;
  mode?: 'NULLABLE' | 'REQUIRED' | 'REPEATED';
  fields?: BigqueryField[];
  /** Parameterised NUMERIC(P[,S]) / BIGNUMERIC(P[,S]); int64 values sent as strings. */
  precision?: string;
  scale?: string;
}

/** One cell of the f/v row format: every scalar is a string, repeated is an array of cells, a record is `{f}`. */
export type BigqueryCellValue = null | string | BigqueryCell[] | { f: BigqueryCell[] };
export interface BigqueryCell {
  v: BigqueryCellValue;
}
export interface BigqueryRow {
  f: BigqueryCell[];
}

/** The logical type of one value of `field` (ignoring REPEATED). */
export function scalarLogicalType(field: BigqueryField): LogicalType | { unsupported: string } {
  switch (field.type.toUpperCase()) {
    case 'INTEGER':
    case 'INT64':
      return { kind: 'int64' };
    case 'FLOAT':
    case 'FLOAT64':
      return { kind: 'float64' };
    case 'NUMERIC':
      return decimalType(field, 38, 9);
    case 'BIGNUMERIC':
    case 'BIGDECIMAL':
      return decimalType(field, 76, 38);
    case 'BOOLEAN':
    case 'BOOL':
      return { kind: 'bool' };
    case 'STRING':
    case 'GEOGRAPHY': // WKT text
    case 'RANGE': // '[start, end)' text; no logical range type yet
      return { kind: 'text' };
    case 'BYTES':
      return { kind: 'bytes' };
    case 'DATE':
      return { kind: 'date' };
    case 'DATETIME':
      return { kind: 'timestamp' };
    case 'TIME':
      return { kind: 'time' };
    case 'TIMESTAMP':
      return { kind: 'timestamptz' };
    case 'INTERVAL': // canonical 'Y-M D H:M:S[.F]', which Postgres also reads as an interval
      return { kind: 'interval' };
    case 'JSON':
    case 'RECORD':
    case 'STRUCT':
      return { kind: 'json' };
    default:
      return { unsupported: `BigQuery type ${field.type} has no outflow logical type` };
  }
}

/** NUMERIC(P) means scale 0; a bare NUMERIC / BIGNUMERIC has BigQuery's fixed precision and scale. */
function decimalType(field: BigqueryField, precision: number, scale: number): LogicalType {
  if (field.precision === undefined) return { kind: 'decimal', precision, scale };
  return { kind: 'decimal', precision: Number(field.precision), scale: Number(field.scale ?? 0) };
}

export function logicalTypeOf(field: BigqueryField): LogicalType {
  const t = scalarLogicalType(field);
  if ('unsupported' in t) throw new SchemaMismatchError(`model column "${field.name}": ${t.unsupported}`);
  return field.mode === 'REPEATED' ? { kind: 'array', element: t } : t;
}

/**
 * outflow's Schema for a BigQuery schema. REPEATED columns are never NULL in BigQuery (an
 * absent array reads as []), so they are not nullable.
 */
export function schemaFromFields(fields: BigqueryField[]): Schema {
  const columns: Column[] = fields.map((f) => ({
    name: f.name,
    type: logicalTypeOf(f),
    nullable: f.mode !== 'REQUIRED' && f.mode !== 'REPEATED',
  }));
  return { columns };
}

/** The GoogleSQL type of a query parameter compared with a column of logical type `t` (the incremental cursor). */
export function parameterTypeFor(t: LogicalType): string {
  switch (t.kind) {
    case 'int16':
    case 'int32':
    case 'int64':
      return 'INT64';
    case 'float32':
    case 'float64':
      return 'FLOAT64';
    case 'decimal':
      return t.precision > 38 || t.scale > 9 ? 'BIGNUMERIC' : 'NUMERIC';
    case 'bool':
      return 'BOOL';
    case 'date':
      return 'DATE';
    case 'time':
      return 'TIME';
    case 'timestamp':
      return 'DATETIME';
    case 'timestamptz':
      return 'TIMESTAMP';
    default:
      return 'STRING';
  }
}
