import { quotedIdentifier } from '@duckdb/node-api';
import type { Column, LogicalType } from '../types/logical-type.js';
import type { DelimitedTextEncoding } from '../destinations/destination.js';

/**
 * The bulk encoder, written as DuckDB SQL: each row becomes one line of the delimited text
 * a bulk destination asked for (DelimitedTextEncoding: Postgres' COPY text, MySQL's LOAD
 * DATA), computed by DuckDB's vectorised engine. Measured against encoding typed JS values
 * per value (see bench/), this keeps per-value work out of JavaScript, which only forwards
 * each chunk's bytes.
 *
 * Common rules: columns separated by a tab, rows by a newline, NULL is \N, and a
 * backslash, tab, newline or carriage return inside a value is escaped with a backslash.
 * Values a destination cannot store (a NUL byte) are refused before staging (see
 * unstorableValueSql).
 */
export function delimitedLineSql(columns: Column[], encoding: DelimitedTextEncoding, rnColumn?: string): string {
  const parts = columns.map((c) => `coalesce(${renderValue(quotedIdentifier(c.name), c.type, encoding)}, '\\N')`);
  if (rnColumn) parts.unshift(`CAST(${quotedIdentifier(rnColumn)} AS VARCHAR)`);
  return parts.join(` || chr(9) || `);
}

function escapeCopy(expr: string): string {
  return `replace(replace(replace(replace(${expr}, '\\', '\\\\'), chr(10), '\\n'), chr(13), '\\r'), chr(9), '\\t')`;
}

/**
 * escapeCopy only for values that hold one of the four characters. Measured (bench model,
 * one DuckDB thread): four replace() calls cost ~0.45 s per 1M text values, the four
 * contains() tests ~0.03 s, and nearly no value needs escaping. For plain column
 * references, where evaluating `expr` again is free.
 */
function escapeCopyWhereNeeded(expr: string): string {
  const needs = [`'\\'`, 'chr(9)', 'chr(10)', 'chr(13)'].map((c) => `contains(${expr}, ${c})`).join(' OR ');
  return `CASE WHEN ${needs} THEN ${escapeCopy(expr)} ELSE ${expr} END`;
}

/** Renders a non-null value as the destination's input text (before escaping where noted). */
function renderValue(expr: string, t: LogicalType, e: DelimitedTextEncoding): string {
  switch (t.kind) {
    case 'text':
      return escapeCopyWhereNeeded(`CAST(${expr} AS VARCHAR)`);
    case 'json':
      // to_json: STRUCT/MAP model columns become JSON text, not DuckDB's literal syntax.
      return escapeCopy(`CAST(to_json(${expr}) AS VARCHAR)`);
    case 'array':
      return escapeCopy(e.arrays === 'json' ? `CAST(to_json(${expr}) AS VARCHAR)` : arrayLiteral(expr, t.element, e));
    case 'bytes':
      // bytea hex input is \x0a0b…; the backslash itself is escaped for the line.
      return e.bytes === 'pg-hex' ? `'\\\\x' || lower(hex(${expr}))` : `hex(${expr})`;
    default:
      return plainText(expr, t, e);
  }
}

/** Text for types whose rendering has no characters the line format needs escaped. */
function plainText(expr: string, t: LogicalType, e: DelimitedTextEncoding): string {
  switch (t.kind) {
    case 'bool':
      return e.bool === 'tf' ? `CASE WHEN ${expr} THEN 't' WHEN NOT ${expr} THEN 'f' END` : `CASE WHEN ${expr} THEN '1' WHEN NOT ${expr} THEN '0' END`;
    case 'date':
    case 'timestamp':
      if (e.dates === 'iso') return `CAST(${expr} AS VARCHAR)`;
      // DuckDB prints BC dates as '0044-03-15 (BC)'; Postgres reads '0044-03-15 BC'. Only
      // values before year 1 can hold it, so the others skip the replace (~0.13 s per 1M).
      return `CASE WHEN ${expr} < ${t.kind === 'date' ? 'DATE' : 'TIMESTAMP'} '0001-01-01' THEN ${bcText(expr)} ELSE CAST(${expr} AS VARCHAR) END`;
    case 'timestamptz':
      // Casting TIMESTAMPTZ to text goes through ICU's calendar, ~3x slower than formatting
      // the same instant as a plain TIMESTAMP (the workspace runs in UTC, so the digits
      // are the same) and appending the zone. Infinities and BC values take the slow path.
      // `utc` (a DATETIME column) takes the same digits without the zone.
      if (e.timestamptz === 'utc') return `CASE WHEN isfinite(${expr}) THEN CAST(make_timestamp(epoch_us(${expr})) AS VARCHAR) ELSE CAST(${expr} AS VARCHAR) END`;
      return `CASE WHEN ${expr} >= TIMESTAMPTZ '0001-01-01 00:00:00+00' AND isfinite(${expr}) THEN CAST(make_timestamp(epoch_us(${expr})) AS VARCHAR) || '+00' ELSE ${bcText(expr)} END`;
    default:
      return `CAST(${expr} AS VARCHAR)`;
  }
}

function bcText(expr: string): string {
  return `replace(CAST(${expr} AS VARCHAR), ' (BC)', ' BC')`;
}

/** A Postgres array literal {…}: elements double-quoted with \ and " escaped, NULL bare. */
function arrayLiteral(expr: string, element: LogicalType, e: DelimitedTextEncoding): string {
  const inner =
    element.kind === 'array'
      ? `coalesce(${arrayLiteral('x', element.element, e)}, 'NULL')`
      : `coalesce('"' || replace(replace(${elementText('x', element, e)}, '\\', '\\\\'), '"', '\\"') || '"', 'NULL')`;
  return `'{' || array_to_string(list_transform(${expr}, x -> ${inner}), ',') || '}'`;
}

function elementText(expr: string, t: LogicalType, e: DelimitedTextEncoding): string {
  if (t.kind === 'bytes') return `'\\x' || lower(hex(${expr}))`;
  if (t.kind === 'text') return `CAST(${expr} AS VARCHAR)`;
  if (t.kind === 'json') return `CAST(to_json(${expr}) AS VARCHAR)`;
  return plainText(expr, t, e);
}
