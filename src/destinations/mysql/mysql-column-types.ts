import type { Column, LogicalType } from '../../types/logical-type.js';
import { formatType } from '../../types/logical-type.js';

/** MySQL and MariaDB allow DECIMAL(65, 30|38) at most. */
const MAX_DECIMAL_PRECISION = 65;
const MAX_DECIMAL_SCALE = 30;
/** A text key column must be a VARCHAR (TEXT cannot be indexed whole): 255 characters, 1020 bytes in utf8mb4. */
const KEY_VARCHAR = 255;

/**
 * DDL type for a logical type, when outflow creates the target table. Time zones: MySQL's
 * TIMESTAMP stops in 2038, so instants go into DATETIME(6) holding UTC (the session runs in
 * UTC). UUIDs are CHAR(36), readable and comparable as text; arrays have no MySQL type.
 */
export function mysqlColumnType(c: Column, isKey: boolean): string | { unsupported: string } {
  const t = c.type;
  switch (t.kind) {
    case 'int16':
      return 'SMALLINT';
    case 'int32':
      return 'INT';
    case 'int64':
      return 'BIGINT';
    case 'float32':
      return 'FLOAT';
    case 'float64':
      return 'DOUBLE';
    case 'decimal':
      if (t.precision > MAX_DECIMAL_PRECISION || t.scale > MAX_DECIMAL_SCALE) {
        return { unsupported: `${formatType(t)} exceeds MySQL's DECIMAL(${MAX_DECIMAL_PRECISION},${MAX_DECIMAL_SCALE}); cast it in the model or create the table yourself` };
      }
      return `DECIMAL(${t.precision},${t.scale})`;
    case 'bool':
      return 'TINYINT(1)';
    case 'text':
      return isKey ? `VARCHAR(${KEY_VARCHAR})` : 'LONGTEXT';
    case 'interval':
      return 'VARCHAR(100)';
    case 'uuid':
      return 'CHAR(36)';
    case 'json':
      return 'JSON';
    case 'bytes':
      return isKey ? `VARBINARY(${KEY_VARCHAR})` : 'LONGBLOB';
    case 'date':
      return 'DATE';
    case 'time':
      return 'TIME(6)';
    case 'timestamp':
    case 'timestamptz':
      return 'DATETIME(6)';
    case 'array':
      return { unsupported: 'MySQL has no array type; turn the column into JSON in the model (to_json(col))' };
  }
}

/** A column as information_schema describes it. */
export interface MysqlColumnInfo {
  /** COLUMN_TYPE, e.g. `bigint(20) unsigned`, `decimal(12,2)`, `varchar(100)`. */
  columnType: string;
  /** True when a CHECK (json_valid(col)) makes a MariaDB LONGTEXT its JSON type. */
  isJson: boolean;
}

/** The logical type a MySQL/MariaDB column holds, or undefined when outflow does not write into it. */
export function logicalFromMysqlColumn(c: MysqlColumnInfo): LogicalType | undefined {
  const type = c.columnType.toLowerCase();
  const base = /^[a-z]+/.exec(type)?.[0] ?? type;
  const args = /\(([^)]*)\)/.exec(type)?.[1]?.split(',').map((x) => Number(x.trim()));
  const isUnsigned = /\bunsigned\b/.test(type);
  if (c.isJson || base === 'json') return { kind: 'json' };
  switch (base) {
    case 'tinyint':
      // TINYINT(1) is how MySQL spells BOOLEAN.
      return args?.[0] === 1 ? { kind: 'bool' } : { kind: 'int16' };
    case 'bool':
    case 'boolean':
      return { kind: 'bool' };
    case 'smallint':
    case 'year':
      return { kind: isUnsigned ? 'int32' : 'int16' };
    case 'mediumint':
      return { kind: 'int32' };
    case 'int':
    case 'integer':
      return { kind: isUnsigned ? 'int64' : 'int32' };
    case 'bigint':
      // BIGINT UNSIGNED goes to 18446744073709551615: more than int64 holds.
      return isUnsigned ? { kind: 'decimal', precision: 20, scale: 0 } : { kind: 'int64' };
    case 'decimal':
    case 'numeric':
      return { kind: 'decimal', precision: args?.[0] ?? 10, scale: args?.[1] ?? 0 };
    case 'float':
      return { kind: 'float32' };
    case 'double':
    case 'real':
      return { kind: 'float64' };
    case 'date':
      return { kind: 'date' };
    case 'time':
      return { kind: 'time' };
    case 'datetime':
      return { kind: 'timestamp' };
    case 'timestamp':
      return { kind: 'timestamptz' };
    case 'uuid':
      return { kind: 'uuid' };
    case 'char':
    case 'varchar':
    case 'tinytext':
    case 'text':
    case 'mediumtext':
    case 'longtext':
    case 'enum':
    case 'set':
      return { kind: 'text' };
    case 'binary':
    case 'varbinary':
    case 'tinyblob':
    case 'blob':
    case 'mediumblob':
    case 'longblob':
      return { kind: 'bytes' };
    default:
      return undefined; // bit, geometry, vector, inet6, …
  }
}

const INTS = ['int16', 'int32', 'int64'];
const NUMBERS = [...INTS, 'float32', 'float64', 'decimal'];

/**
 * Why a model value of type `from` cannot go into a MySQL column, or undefined. Conversions
 * that would lose information for every value (rounding decimals, float into an integer,
 * bytes into text) are refused before anything is written; those that can only fail per
 * value (a string too long, an int64 beyond INT, text that is no date) are allowed: strict
 * mode turns such values into rejected rows.
 */
export function mysqlIncompatibility(from: LogicalType, to: LogicalType | undefined, toName: string): string | undefined {
  const refuse = (why: string) => `${formatType(from)} cannot be written into ${toName}: ${why}`;
  if (!to) return `outflow does not write into ${toName} columns`;
  if (from.kind === 'array') return refuse('MySQL has no array type; turn the column into JSON in the model (to_json(col))');
  if (to.kind === 'text') return from.kind === 'bytes' ? refuse('bytes have no faithful text form') : undefined;
  if (from.kind === 'text') return to.kind === 'bytes' ? refuse('text is not parsed into bytes') : undefined; // parsed per value
  if (to.kind === 'bytes') return from.kind === 'bytes' ? undefined : refuse('only bytes go into a binary column');
  if (INTS.includes(to.kind)) {
    if (INTS.includes(from.kind) || (from.kind === 'decimal' && from.scale === 0)) return undefined; // range fails per value
    return refuse(NUMBERS.includes(from.kind) ? 'would round or truncate fractional values' : 'not a number');
  }
  if (to.kind === 'decimal') {
    if (INTS.includes(from.kind)) return undefined;
    if (from.kind === 'float32' || from.kind === 'float64') return undefined; // exact decimal digits of the float, range per value
    if (from.kind !== 'decimal') return refuse('not a number');
    if (to.scale < from.scale) return refuse(`MySQL would round ${from.scale} decimal places to ${to.scale}`);
    const fromDigits = from.precision - from.scale;
    const toDigits = to.precision - to.scale;
    if (fromDigits > toDigits) return refuse(`${fromDigits} integer digits do not fit the ${toDigits} that ${toName} allows`);
    return undefined;
  }
  if (to.kind === 'float64') return NUMBERS.includes(from.kind) && from.kind !== 'decimal' ? undefined : refuse(from.kind === 'decimal' ? 'DOUBLE would round exact decimals' : 'not a number');
  if (to.kind === 'float32') return from.kind === 'float32' || from.kind === 'int16' ? undefined : refuse('FLOAT keeps about 6 digits and would round');
  // DATETIME holds UTC wall-clock time (the session runs in UTC); TIMESTAMP reads values as UTC.
  if (to.kind === 'timestamp' && (from.kind === 'timestamptz' || from.kind === 'date')) return undefined;
  if (to.kind === 'timestamptz' && (from.kind === 'timestamp' || from.kind === 'date')) return undefined;
  if (to.kind === 'json' && from.kind === 'json') return undefined;
  if (to.kind === 'uuid' && from.kind === 'uuid') return undefined;
  if (from.kind === to.kind) return undefined;
  if (from.kind === 'timestamptz' && to.kind === 'date') return refuse('would drop the time of day');
  return refuse('different kinds of value');
}
