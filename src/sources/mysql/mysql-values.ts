import type { LogicalType, Value } from '../../types/logical-type.js';
import { SchemaMismatchError } from '../../errors.js';

/** What mysql2 hands over for one column under the pool options of mysql-connection.ts. */
export type MysqlDriverValue = null | number | string | Buffer;

/**
 * A converter from the driver's value to the Value convention, made once per column.
 * Temporal text is kept as the server prints it, so zero dates ('0000-00-00') and TIME
 * values beyond a day ('-838:59:59') travel unchanged and the destination rejects those
 * rows instead of outflow guessing a date.
 */
export function mysqlValueConverter(column: string, type: LogicalType): (v: MysqlDriverValue) => Value {
  switch (type.kind) {
    case 'bool':
      return (v) => toBool(column, v);
    case 'int64':
      return (v) => (v === null ? null : BigInt(v as string | number));
    case 'decimal':
      return (v) => (v === null ? null : String(v));
    case 'bytes':
      return (v) => (v === null ? null : new Uint8Array(v as Buffer));
    case 'time':
    case 'timestamp':
      return (v) => (v === null ? null : trimFraction(v as string));
    case 'timestamptz':
      return (v) => (v === null ? null : `${trimFraction(v as string)}+00`);
    default:
      // int16/int32/float* arrive as numbers; text, uuid, json, date as strings.
      return (v) => v as Value;
  }
}

function toBool(column: string, v: MysqlDriverValue): Value {
  if (v === null) return null;
  const n = typeof v === 'number' ? v : Buffer.isBuffer(v) ? v[v.length - 1] : Number(v);
  if (n === 0) return false;
  if (n === 1) return true;
  throw new SchemaMismatchError(
    `mysql source: column "${column}" is TINYINT(1) (read as bool) but holds ${n}; ` +
      `cast it in the model to keep the number, e.g. CAST(${column} AS SIGNED)`,
  );
}

/**
 * MySQL pads fractional seconds to the column's precision ('12:00:00.100000'); Postgres
 * and DuckDB print them without trailing zeros. One form keeps snapshots comparable.
 */
export function trimFraction(text: string): string {
  const dot = text.lastIndexOf('.');
  if (dot < 0) return text;
  let end = text.length;
  while (end > dot + 1 && text.charCodeAt(end - 1) === 48 /* 0 */) end--;
  return end === dot + 1 ? text.slice(0, dot) : text.slice(0, end);
}
