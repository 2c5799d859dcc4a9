import type { LogicalType } from '../../types/logical-type.js';
import { formatType } from '../../types/logical-type.js';
import { logicalFromPgType, pgTypeFor } from '../../types/postgres-types.js';

/** Postgres numeric allows at most 1000 digits of precision. */
const PG_NUMERIC_MAX_PRECISION = 1000;

/** DDL type for a logical type, used when outflow creates the target table. */
export const pgColumnType = pgTypeFor;

/**
 * The logical type a Postgres column (as format_type() spells it) can hold. Same mapping as
 * for reading Postgres, except that an unconstrained `numeric` column is a fine target: it
 * holds any decimal exactly (marked with scale -1).
 */
export function logicalFromPgTypeName(name: string): LogicalType | undefined {
  if (name.trim().toLowerCase() === 'numeric') return { kind: 'decimal', precision: PG_NUMERIC_MAX_PRECISION, scale: -1 };
  const t = logicalFromPgType(name);
  return 'unsupported' in t ? undefined : t;
}

const INTS = ['int16', 'int32', 'int64'];
const RANK: Record<string, number> = { int16: 1, int32: 2, int64: 3 };

/**
 * Why a model value of type `from` cannot go into a column of type `to`, or undefined.
 * Conversions that could lose information silently (rounding decimals, dropping a time
 * zone, float into integer) are refused; conversions that can only fail per value (a string
 * too long, an int64 beyond an integer column) are allowed: such values become rejected rows.
 */
export function pgIncompatibility(from: LogicalType, to: LogicalType | undefined, toName: string): string | undefined {
  if (!to) return `outflow does not write into ${toName} columns`;
  const f = formatType(from);
  const refuse = (why: string) => `${f} cannot be written into ${toName}: ${why}`;
  if (to.kind === 'text') {
    if (from.kind === 'bytes' || from.kind === 'array') return refuse('no faithful text form');
    return undefined;
  }
  if (from.kind === 'text') {
    // Text from CSV-like models is parsed by Postgres per value; bad values are rejected rows.
    if (to.kind === 'bytes' || to.kind === 'array') return refuse('text is not parsed into this type');
    return undefined;
  }
  if (to.kind === 'array') {
    if (from.kind !== 'array') return refuse('the model column is not an array');
    return pgIncompatibility(from.element, to.element, toName.replace(/\[\]$/, ''));
  }
  if (from.kind === 'array') return refuse('the model column is an array');
  if (INTS.includes(to.kind)) {
    if (INTS.includes(from.kind)) return undefined; // narrowing fails per value, never rounds
    if (from.kind === 'decimal' && from.scale === 0) return undefined;
    if (from.kind === 'decimal' || from.kind === 'float32' || from.kind === 'float64') return refuse('would round or truncate fractional values');
    return refuse('not a number');
  }
  if (to.kind === 'decimal') {
    if (INTS.includes(from.kind) || from.kind === 'float32' || from.kind === 'float64') return undefined;
    if (from.kind === 'decimal') {
      if (to.scale === -1) return undefined;
      if (from.precision > PG_NUMERIC_MAX_PRECISION) return refuse(`precision ${from.precision} exceeds Postgres' limit of ${PG_NUMERIC_MAX_PRECISION}`);
      if (to.scale < from.scale) return refuse(`Postgres would round ${from.scale} decimal places to ${to.scale}`);
      // Refused up front rather than as rejected rows: a declared numeric(p,s) narrower than the
      // model's decimal (BigQuery BIGNUMERIC into numeric(38,9)) is a mapping mistake, not a bad value.
      const fromDigits = from.precision - from.scale;
      const toDigits = to.precision - to.scale;
      if (fromDigits > toDigits) return refuse(`${fromDigits} integer digits do not fit the ${toDigits} that ${toName} allows`);
      return undefined;
    }
    return refuse('not a number');
  }
  if (to.kind === 'float64') {
    if (INTS.includes(from.kind) || from.kind === 'float32' || from.kind === 'float64') return undefined;
    if (from.kind === 'decimal') return refuse('double precision would round exact decimals');
    return refuse('not a number');
  }
  if (to.kind === 'float32') {
    if (from.kind === 'float32' || from.kind === 'int16') return undefined;
    return refuse('real keeps about 6 digits and would round');
  }
  if (to.kind === 'timestamptz' && (from.kind === 'timestamp' || from.kind === 'date')) return undefined; // read as UTC
  if (to.kind === 'timestamp' && from.kind === 'date') return undefined;
  if (to.kind === 'json' && from.kind === 'json') return undefined;
  if (from.kind === to.kind) return undefined;
  if (from.kind === 'timestamptz' && (to.kind === 'timestamp' || to.kind === 'date')) return refuse('would drop the time zone');
  if (from.kind === 'decimal' && from.precision > PG_NUMERIC_MAX_PRECISION) {
    return refuse(`precision ${from.precision} exceeds Postgres' limit of ${PG_NUMERIC_MAX_PRECISION}`);
  }
  return refuse('different kinds of value');
}
