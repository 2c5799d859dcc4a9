import type { LogicalType } from './logical-type.js';

/**
 * Postgres type names as `format_type(oid, typmod)` prints them → outflow logical types.
 * Types outflow cannot carry faithfully come back as `{ unsupported }` with what to do
 * instead, and the caller refuses the model (no silent rounding or truncation).
 * Enums arrive here already renamed to `text` by the describe query; domains arrive as
 * their base type (Postgres reports the base type in a RowDescription).
 */
export function logicalFromPgType(formatType: string): LogicalType | { unsupported: string } {
  const t = formatType.trim().toLowerCase();
  if (t.endsWith('[]')) {
    // Postgres array types carry no dimension count: integer[][] is integer[].
    const inner = logicalFromPgType(t.replace(/(\[\])+$/, ''));
    return 'unsupported' in inner ? inner : { kind: 'array', element: inner };
  }
  const numeric = /^numeric(?:\((\d+)(?:,\s*(-?\d+))?\))?$/.exec(t);
  if (numeric) return decimalFromTypmod(numeric[1], numeric[2]);
  if (/^(character varying|character|varchar|bpchar)(\(\d+\))?$/.test(t)) return { kind: 'text' };
  if (/^time(\(\d\))? without time zone$/.test(t) || /^time(\(\d\))?$/.test(t)) return { kind: 'time' };
  if (/^timestamp(\(\d\))? without time zone$/.test(t) || /^timestamp(\(\d\))?$/.test(t)) return { kind: 'timestamp' };
  if (/^timestamp(\(\d\))? with time zone$/.test(t) || /^timestamptz(\(\d\))?$/.test(t)) return { kind: 'timestamptz' };
  if (/^interval\b/.test(t)) return { kind: 'interval' };
  if (/^time(\(\d\))? with time zone$/.test(t) || t === 'timetz') {
    return { unsupported: 'time with time zone is not carried; cast it to time or timestamptz in the model' };
  }
  if (/^bit( varying)?(\(\d+\))?$/.test(t) || t === 'varbit') {
    return { unsupported: `${formatType} is not carried; cast it to text in the model` };
  }
  switch (t) {
    case 'smallint':
    case 'int2':
      return { kind: 'int16' };
    case 'integer':
    case 'int':
    case 'int4':
      return { kind: 'int32' };
    case 'bigint':
    case 'int8':
    case 'oid': // unsigned 32-bit, fits int64
      return { kind: 'int64' };
    case 'real':
    case 'float4':
      return { kind: 'float32' };
    case 'double precision':
    case 'float8':
      return { kind: 'float64' };
    case 'text':
    case 'name':
    case '"char"':
    case 'citext':
    case 'xml':
    case 'inet':
    case 'cidr':
    case 'macaddr':
    case 'macaddr8':
      // Exact text forms that Postgres reads back unchanged.
      return { kind: 'text' };
    case 'boolean':
    case 'bool':
      return { kind: 'bool' };
    case 'date':
      return { kind: 'date' };
    case 'uuid':
      return { kind: 'uuid' };
    case 'json':
    case 'jsonb':
      return { kind: 'json' };
    case 'bytea':
      return { kind: 'bytes' };
    case 'money':
      return { unsupported: 'money prints with the server locale (currency sign, separators); cast it to numeric(p,s) in the model' };
    default:
      return { unsupported: `Postgres type ${formatType} is not supported; cast it to text or json in the model` };
  }
}

/**
 * numeric(p,s) → decimal(p,s). An unconstrained `numeric` (what sum(), avg() and numeric
 * arithmetic return) has no scale to keep, so any fixed decimal(p,s) would round some
 * value; it is refused with the cast to write instead.
 */
function decimalFromTypmod(p: string | undefined, s: string | undefined): LogicalType | { unsupported: string } {
  if (p === undefined) {
    return {
      unsupported:
        'numeric without precision and scale can hold any number of digits, so no decimal(p,s) is exact for it; ' +
        'cast it in the model, e.g. CAST(x AS numeric(38,9)), or CAST(x AS text) to keep every digit as text',
    };
  }
  const precision = Number(p);
  const scale = s === undefined ? 0 : Number(s);
  // Postgres 15 allows scale < 0 (numeric(3,-2) holds 99900) and scale > precision
  // (numeric(2,5) holds 0.00012); both fit a plain decimal with more digits.
  if (scale < 0) return { kind: 'decimal', precision: precision - scale, scale: 0 };
  if (scale > precision) return { kind: 'decimal', precision: scale, scale };
  return { kind: 'decimal', precision, scale };
}

/** Logical type → the Postgres DDL type that holds it without loss (destinations, staging). */
export function pgTypeFor(t: LogicalType): string {
  switch (t.kind) {
    case 'int16':
      return 'smallint';
    case 'int32':
      return 'integer';
    case 'int64':
      return 'bigint';
    case 'float32':
      return 'real';
    case 'float64':
      return 'double precision';
    case 'decimal':
      // Postgres numeric allows precision up to 1000, so every source decimal fits
      // (BigQuery BIGNUMERIC is decimal(76,38)).
      return `numeric(${t.precision},${t.scale})`;
    case 'text':
      return 'text';
    case 'bool':
      return 'boolean';
    case 'date':
      return 'date';
    case 'time':
      return 'time';
    case 'timestamp':
      return 'timestamp';
    case 'timestamptz':
      return 'timestamptz';
    case 'interval':
      return 'interval';
    case 'uuid':
      return 'uuid';
    case 'json':
      return 'jsonb';
    case 'bytes':
      return 'bytea';
    case 'array':
      // Postgres ignores the number of [] (all arrays of a type are one type), so an
      // array of arrays becomes a multi-dimensional array of the innermost element.
      return `${pgTypeFor(t.element)}[]`;
  }
}
