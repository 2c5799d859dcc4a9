import type { Column } from '../../types/logical-type.js';
import type { DelimitedTextEncoding } from '../destination.js';

/**
 * What MySQL's LOAD DATA reads in a UTC session, in the contract's neutral terms (DuckDB
 * renders it): tab-separated lines with backslash escapes and \N for NULL (LOAD DATA's
 * defaults), booleans 1/0, bytes as bare hex decoded by UNHEX() in the statement's SET clause
 * (raw bytes would pass through the character set), instants as their UTC digits without a
 * zone (MariaDB reads no offset), dates as DuckDB prints them (a BC date is text MySQL
 * refuses: a rejected row), arrays as JSON (never used: MySQL has no array column).
 */
export const LOAD_DATA_TEXT: DelimitedTextEncoding = { format: 'delimited-text', bool: '10', bytes: 'hex', timestamptz: 'utc', dates: 'iso', arrays: 'json' };

/**
 * The column list and SET clause of a LOAD DATA statement for these columns: bytes go
 * through a user variable and UNHEX(), everything else straight into its column.
 */
function loadDataColumns(columns: Column[], escapeId: (name: string) => string, rnColumn?: string): string {
  const targets: string[] = rnColumn ? [escapeId(rnColumn)] : [];
  const sets: string[] = [];
  columns.forEach((c, i) => {
    if (c.type.kind !== 'bytes') return void targets.push(escapeId(c.name));
    targets.push(`@b${i}`);
    sets.push(`${escapeId(c.name)} = UNHEX(@b${i})`);
  });
  return `(${targets.join(', ')})${sets.length ? ` SET ${sets.join(', ')}` : ''}`;
}

/** LOAD DATA LOCAL INFILE of LOAD_DATA_TEXT lines into `table`. The file name is only a label: mysql2 streams the bytes. */
export function loadDataSql(table: string, columns: Column[], escapeId: (name: string) => string, rnColumn?: string): string {
  return `LOAD DATA LOCAL INFILE 'outflow-rows' INTO TABLE ${table} CHARACTER SET utf8mb4
    FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' ${loadDataColumns(columns, escapeId, rnColumn)}`;
}
