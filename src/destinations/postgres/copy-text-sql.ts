import { quotedIdentifier, quotedString } from '@duckdb/node-api';
import type { Column, LogicalType } from '../../types/logical-type.js';

/**
 * The COPY encoder, written as DuckDB SQL: each row becomes one line of Postgres' COPY
 * text format, computed by DuckDB's vectorised engine. Measured against encoding typed JS
 * values per value (see ../shared baselines and bench/), this keeps per-value work out of
 * JavaScript, which only joins each chunk's lines into one buffer.
 *
 * COPY text rules: columns separated by a tab, rows by a newline, NULL is \N, and a
 * backslash, tab, newline or carriage return inside a value is escaped with a backslash.
 * Text cannot hold NUL bytes in Postgres; rows with one are rejected before staging
 * (see nulByteCheckSql).
 */
export function copyLineSql(columns: Column[], rnColumn?: string): string {
  const parts = columns.map((c) => `coalesce(${renderValue(quotedIdentifier(c.name), c.type)}, '\\N')`);
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

/** Renders a non-null value as Postgres input text (before COPY escaping where noted). */
function renderValue(expr: string, t: LogicalType): string {
  switch (t.kind) {
    case 'text':
      return escapeCopyWhereNeeded(`CAST(${expr} AS VARCHAR)`);
    case 'json':
      // to_json: STRUCT/MAP model columns become JSON text, not DuckDB's literal syntax.
      return escapeCopy(`CAST(to_json(${expr}) AS VARCHAR)`);
    case 'array':
      return escapeCopy(arrayLiteral(expr, t.element));
    case 'bytes':
      // bytea hex input is \x0a0b…; the backslash itself is escaped for COPY.
      return `'\\\\x' || lower(hex(${expr}))`;
    default:
      return plainText(expr, t);
  }
}

/** Text for types whose rendering has no characters COPY needs escaped. */
function plainText(expr: string, t: LogicalType): string {
  switch (t.kind) {
    case 'bool':
      return `CASE WHEN ${expr} THEN 't' WHEN NOT ${expr} THEN 'f' END`;
    case 'date':
    case 'timestamp':
      // DuckDB prints BC dates as '0044-03-15 (BC)'; Postgres reads '0044-03-15 BC'. Only
      // values before year 1 can hold it, so the others skip the replace (~0.13 s per 1M).
      return `CASE WHEN ${expr} < ${t.kind === 'date' ? 'DATE' : 'TIMESTAMP'} '0001-01-01' THEN ${bcText(expr)} ELSE CAST(${expr} AS VARCHAR) END`;
    case 'timestamptz':
      // Casting TIMESTAMPTZ to text goes through ICU's calendar, ~3x slower than formatting
      // the same instant as a plain TIMESTAMP (the workspace runs in UTC, so the digits
      // are the same) and appending the zone. Infinities and BC values take the slow path.
      return `CASE WHEN ${expr} >= TIMESTAMPTZ '0001-01-01 00:00:00+00' AND isfinite(${expr}) THEN CAST(make_timestamp(epoch_us(${expr})) AS VARCHAR) || '+00' ELSE ${bcText(expr)} END`;
    default:
      return `CAST(${expr} AS VARCHAR)`;
  }
}

function bcText(expr: string): string {
  return `replace(CAST(${expr} AS VARCHAR), ' (BC)', ' BC')`;
}

/** A Postgres array literal {…}: elements double-quoted with \ and " escaped, NULL bare. */
function arrayLiteral(expr: string, element: LogicalType): string {
  const inner =
    element.kind === 'array'
      ? `coalesce(${arrayLiteral('x', element.element)}, 'NULL')`
      : `coalesce('"' || replace(replace(${elementText('x', element)}, '\\', '\\\\'), '"', '\\"') || '"', 'NULL')`;
  return `'{' || array_to_string(list_transform(${expr}, x -> ${inner}), ',') || '}'`;
}

function elementText(expr: string, t: LogicalType): string {
  if (t.kind === 'bytes') return `'\\x' || lower(hex(${expr}))`;
  if (t.kind === 'text') return `CAST(${expr} AS VARCHAR)`;
  if (t.kind === 'json') return `CAST(to_json(${expr}) AS VARCHAR)`;
  return plainText(expr, t);
}

/**
 * A DuckDB boolean expression that is true when a row holds a NUL byte in any text value
 * (Postgres text cannot store one), with the first offending column's name as reason.
 */
export function nulByteReasonSql(columns: Column[]): string | undefined {
  const checks = columns
    .filter((c) => c.type.kind === 'text' || c.type.kind === 'json' || (c.type.kind === 'array' && hasText(c.type)))
    .map((c) => {
      const col = quotedIdentifier(c.name);
      const test = c.type.kind === 'array' ? `contains(CAST(${col} AS VARCHAR), chr(0))` : `contains(${col}, chr(0))`;
      return `WHEN ${test} THEN ${quotedString(c.name)}`;
    });
  return checks.length ? `CASE ${checks.join(' ')} END` : undefined;
}

function hasText(t: LogicalType): boolean {
  return t.kind === 'text' || t.kind === 'json' || (t.kind === 'array' && hasText(t.element));
}

