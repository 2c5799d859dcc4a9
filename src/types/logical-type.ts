/**
 * outflow's logical column types: the vocabulary every source maps into and every
 * destination maps out of, so a connector never needs to know another connector's types.
 */
export type ScalarKind =
  | 'int16'
  | 'int32'
  | 'int64'
  | 'float32'
  | 'float64'
  | 'text'
  | 'bool'
  | 'date'
  | 'time'
  | 'timestamp'
  | 'timestamptz'
  | 'interval'
  | 'uuid'
  | 'json'
  | 'bytes';

export type LogicalType =
  | { kind: ScalarKind }
  | { kind: 'decimal'; precision: number; scale: number }
  | { kind: 'array'; element: LogicalType };

export interface Column {
  name: string;
  type: LogicalType;
  nullable: boolean;
}

export interface Schema {
  columns: Column[];
}

/**
 * How values of each logical type travel in a Batch. Temporal values are text so that
 * microseconds and time zones survive (a JS Date has milliseconds only):
 *   int16/int32/float*: number   int64: bigint   decimal: string (exact digits)
 *   text/uuid/interval: string   json: string (JSON text)   bool: boolean
 *   date: 'YYYY-MM-DD'   time: 'HH:MM:SS[.ffffff]'   timestamp: 'YYYY-MM-DD HH:MM:SS[.ffffff]'
 *   timestamptz: 'YYYY-MM-DD HH:MM:SS[.ffffff]+00' (UTC)   bytes: Uint8Array   array: Value[]
 */
export type Value = null | boolean | number | bigint | string | Uint8Array | Value[];

/** A bounded group of rows in schema column order. Never the whole model. */
export interface Batch {
  rows: Value[][];
}

export function scalar(kind: ScalarKind): LogicalType {
  return { kind };
}

export function formatType(t: LogicalType): string {
  if (t.kind === 'decimal') return `decimal(${t.precision},${t.scale})`;
  if (t.kind === 'array') return `${formatType(t.element)}[]`;
  return t.kind;
}
