import type { LogicalType, Value } from './logical-type.js';
import { parsePgArrayLiteral, type PgArrayItem } from './postgres-array-literal.js';

/**
 * Postgres text output → the Value conventions of logical-type.ts. Used by the Postgres
 * source and by `verify` to read a Postgres destination back, so both see the same values.
 *
 * Assumes the session settings that `PG_TEXT_SESSION_SETTINGS` lists: timestamptz prints
 * in UTC ('…+00'), dates in ISO order, bytea in hex, floats with every significant digit.
 * Temporal text is passed through as Postgres prints it (fractional seconds without
 * trailing zeros, 'BC' suffix, 'infinity'), which Postgres also reads back unchanged.
 */
export function parsePgText(text: string | null, type: LogicalType): Value {
  if (text === null) return null;
  switch (type.kind) {
    case 'int16':
    case 'int32':
      return Number(text);
    case 'int64':
      return BigInt(text);
    case 'float32':
      // The shortest decimal that rounds to the float4; fround gives that float4 exactly.
      return Math.fround(Number(text));
    case 'float64':
      return Number(text); // 'NaN', 'Infinity', '-Infinity' included
    case 'bool':
      return text === 't' || text === 'true';
    case 'bytes':
      return decodeBytea(text);
    case 'array':
      return parsePgArrayLiteral(text).map((item) => arrayItemValue(item, type.element));
    default:
      // decimal (exact digits), text, uuid, json, interval, date, time, timestamp(tz)
      return text;
  }
}

/** Session settings under which Postgres text output matches what parsePgText expects. */
export const PG_TEXT_SESSION_SETTINGS: ReadonlyArray<readonly [name: string, value: string]> = [
  ['TimeZone', 'UTC'],
  ['DateStyle', 'ISO, YMD'],
  ['IntervalStyle', 'postgres'],
  ['bytea_output', 'hex'],
  // Servers before 12 print floats rounded to 15 digits unless asked for 3 more.
  ['extra_float_digits', '3'],
];

function arrayItemValue(item: PgArrayItem, type: LogicalType): Value {
  if (item === null) return null;
  if (Array.isArray(item)) {
    // A nested literal: either a declared array of arrays, or a multi-dimensional
    // Postgres array (whose type is still elem[]), which keeps its nesting.
    const inner = type.kind === 'array' ? type.element : type;
    return item.map((x) => arrayItemValue(x, inner));
  }
  if (type.kind === 'array') throw new Error(`expected a nested array, found the element ${JSON.stringify(item)}`);
  return parsePgText(item, type);
}

/** bytea in hex ('\x0aff') or, from servers set to bytea_output=escape, escape format. */
export function decodeBytea(text: string): Uint8Array {
  if (text.startsWith('\\x')) return Uint8Array.from(Buffer.from(text.slice(2), 'hex'));
  const out: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (ch !== 92 /* \ */) {
      out.push(ch);
    } else if (text[i + 1] === '\\') {
      out.push(92);
      i++;
    } else {
      out.push(parseInt(text.slice(i + 1, i + 4), 8));
      i += 3;
    }
  }
  return Uint8Array.from(out);
}
