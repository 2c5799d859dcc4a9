import type { LogicalType } from './logical-type.js';

/** What the MySQL protocol says about a result column (mysql2's FieldPacket, trimmed). */
export interface MysqlColumnMeta {
  name: string;
  columnType: number;
  columnLength: number;
  decimals: number;
  flags: number;
  characterSet: number;
  /** MariaDB 10.5+ extended metadata: 'uuid', 'inet6', … */
  extendedTypeName?: string;
  /** MariaDB 10.5+ extended metadata: 'json' for its JSON alias of LONGTEXT. */
  extendedFormat?: string;
}

/** Protocol type codes (include/field_types.h). */
export const MYSQL_TYPE = {
  DECIMAL: 0, TINY: 1, SHORT: 2, LONG: 3, FLOAT: 4, DOUBLE: 5, NULL: 6, TIMESTAMP: 7, LONGLONG: 8, INT24: 9,
  DATE: 10, TIME: 11, DATETIME: 12, YEAR: 13, NEWDATE: 14, VARCHAR: 15, BIT: 16, TIMESTAMP2: 17, DATETIME2: 18,
  TIME2: 19, VECTOR: 242, JSON: 245, NEWDECIMAL: 246, ENUM: 247, SET: 248, TINY_BLOB: 249, MEDIUM_BLOB: 250,
  LONG_BLOB: 251, BLOB: 252, VAR_STRING: 253, STRING: 254, GEOMETRY: 255,
} as const;

export const MYSQL_FLAG = { NOT_NULL: 1, UNSIGNED: 32 } as const;
const BINARY_CHARSET = 63;

/**
 * A MySQL / MariaDB result column → an outflow logical type, or `{ unsupported }` with what
 * to do instead. Unsigned integers widen to the next type that holds their whole range.
 */
export function logicalFromMysql(c: MysqlColumnMeta): LogicalType | { unsupported: string } {
  const isUnsigned = (c.flags & MYSQL_FLAG.UNSIGNED) !== 0;
  const isBinary = c.characterSet === BINARY_CHARSET;
  if (c.extendedFormat === 'json') return { kind: 'json' };
  if (c.extendedTypeName === 'uuid') return { kind: 'uuid' };
  const T = MYSQL_TYPE;
  switch (c.columnType) {
    case T.TINY:
      // TINYINT(1) is MySQL's BOOLEAN; the reader refuses a value other than 0 and 1.
      if (c.columnLength === 1) return { kind: 'bool' };
      return { kind: 'int16' };
    case T.SHORT:
      return { kind: isUnsigned ? 'int32' : 'int16' };
    case T.INT24:
      return { kind: 'int32' };
    case T.LONG:
      return { kind: isUnsigned ? 'int64' : 'int32' };
    case T.LONGLONG:
      return isUnsigned ? { kind: 'decimal', precision: 20, scale: 0 } : { kind: 'int64' };
    case T.YEAR:
      return { kind: 'int16' };
    case T.FLOAT:
      return { kind: 'float32' };
    case T.DOUBLE:
      return { kind: 'float64' };
    case T.DECIMAL:
    case T.NEWDECIMAL:
      return decimalFromLength(c, isUnsigned);
    case T.DATE:
    case T.NEWDATE:
      return { kind: 'date' };
    case T.TIME:
    case T.TIME2:
      return { kind: 'time' };
    case T.DATETIME:
    case T.DATETIME2:
      return { kind: 'timestamp' };
    case T.TIMESTAMP:
    case T.TIMESTAMP2:
      // Stored as an instant and printed in the session time zone, which outflow sets to UTC.
      return { kind: 'timestamptz' };
    case T.JSON:
      return { kind: 'json' };
    case T.BIT:
      return c.columnLength === 1 ? { kind: 'bool' } : { kind: 'bytes' };
    case T.VARCHAR:
    case T.VAR_STRING:
    case T.STRING:
    case T.ENUM:
    case T.SET:
    case T.TINY_BLOB:
    case T.MEDIUM_BLOB:
    case T.LONG_BLOB:
    case T.BLOB:
      // BINARY/VARBINARY/BLOB carry the binary character set; CHAR/VARCHAR/TEXT a text one.
      return isBinary ? { kind: 'bytes' } : { kind: 'text' };
    case T.NULL:
      return { kind: 'text' }; // a bare NULL literal: every value is NULL
    case T.GEOMETRY:
      return { unsupported: 'spatial values are not carried; convert them in the model with ST_AsText() or ST_AsGeoJSON()' };
    default:
      return { unsupported: `MySQL column type ${c.columnType} is not supported; cast it to CHAR in the model` };
  }
}

/** DECIMAL(M,D) reports a display length of M, plus one for the point when D > 0, plus one for the sign. */
function decimalFromLength(c: MysqlColumnMeta, isUnsigned: boolean): LogicalType {
  const scale = c.decimals;
  const precision = c.columnLength - (scale > 0 ? 1 : 0) - (isUnsigned ? 0 : 1);
  return { kind: 'decimal', precision: Math.max(precision, scale, 1), scale };
}
