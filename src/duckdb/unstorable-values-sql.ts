import { quotedIdentifier, quotedString } from '@duckdb/node-api';
import type { Column, LogicalType } from '../types/logical-type.js';
import type { UnstorableValues } from '../destinations/destination.js';

/**
 * A DuckDB expression naming the first column of a row that holds a value the destination
 * declared it cannot store (capabilities.unstorable), NULL when the row is fine; undefined
 * when nothing needs checking. The diff refuses those rows before anything is sent.
 */
export function unstorableValueSql(columns: Column[], unstorable: UnstorableValues | undefined): string | undefined {
  return unstorable?.nulInText ? nulInTextSql(columns) : undefined;
}

/** The reason reported for a row unstorableValueSql flagged in `column`. */
export function unstorableReason(column: string, unstorable: UnstorableValues | undefined): string {
  return `column ${column}: ${unstorable?.nulInText ?? 'the destination cannot store this value'}`;
}

/**
 * A DuckDB expression naming the first column of a row that holds a NUL byte in any text
 * value, NULL when none does: the rows a destination declaring `unstorable.nulInText`
 * refuses before anything is sent.
 */
function nulInTextSql(columns: Column[]): string | undefined {
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

