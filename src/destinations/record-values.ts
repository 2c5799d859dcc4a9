import type { Column, LogicalType, Value } from '../types/logical-type.js';

/**
 * Values of a row as the record destinations write them: JSON for HTTP bodies and Redis
 * `format: json`, text for Redis hash fields and for `{column}` placeholders. One place,
 * so an HTTP API and a Redis hash see a timestamp or a decimal written the same way:
 *   numbers stay numbers; int64 beyond ±2^53 and decimals are strings (a JSON reader
 *   would round them) unless `bigNumbers: 'number'`; timestamps ISO-8601 (`…Z` for
 *   timestamptz); bytes base64; json columns embedded as JSON; arrays as JSON arrays.
 */
export interface JsonValueOptions {
  /** 'string' (default): int64 outside the safe integer range and decimals as JSON strings; 'number': as JSON numbers (exact digits). */
  bigNumbers: 'string' | 'number';
}

/** A value this destination cannot write, said for the row's column. */
export class UnwritableValueError extends Error {
  constructor(
    readonly column: string,
    reason: string,
  ) {
    super(`column ${column}: ${reason}`);
  }
}

const SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** One row as a JSON object text: `{"name":"Ohio","abbreviation":"OH"}`. Throws UnwritableValueError. */
export function jsonRow(columns: readonly Column[], values: readonly Value[], opts: JsonValueOptions): string {
  let out = '{';
  for (let i = 0; i < columns.length; i++) {
    if (i > 0) out += ',';
    out += JSON.stringify(columns[i].name) + ':' + jsonValue(columns[i], values[i], opts);
  }
  return out + '}';
}

export function jsonValue(column: Column, v: Value, opts: JsonValueOptions): string {
  try {
    return jsonOf(column.type, v, opts);
  } catch (e) {
    throw new UnwritableValueError(column.name, (e as Error).message);
  }
}

function jsonOf(t: LogicalType, v: Value, opts: JsonValueOptions): string {
  if (v === null || v === undefined) return 'null';
  switch (t.kind) {
    case 'int16':
    case 'int32':
    case 'float32':
    case 'float64':
      if (typeof v === 'number' && !Number.isFinite(v)) throw new Error(`${v} has no JSON number`);
      return String(v);
    case 'int64': {
      const b = typeof v === 'bigint' ? v : BigInt(v as number | string);
      return opts.bigNumbers === 'number' || (b <= SAFE && b >= -SAFE) ? b.toString() : JSON.stringify(b.toString());
    }
    case 'decimal':
      return opts.bigNumbers === 'number' ? String(v) : JSON.stringify(String(v));
    case 'bool':
      return v ? 'true' : 'false';
    case 'json':
      // JSON text from the source (DuckDB, Postgres jsonb): embedded as the value it is.
      return String(v);
    case 'array':
      if (!Array.isArray(v)) throw new Error(`expected a list, got ${typeof v}`);
      return '[' + v.map((x) => jsonOf(t.element, x, opts)).join(',') + ']';
    default:
      return JSON.stringify(textOf(t, v));
  }
}

/** A value as text: a Redis hash field, a `{column}` placeholder. NULL is the caller's concern. */
export function textValue(column: Column, v: Exclude<Value, null>): string {
  try {
    return textOf(column.type, v);
  } catch (e) {
    throw new UnwritableValueError(column.name, (e as Error).message);
  }
}

function textOf(t: LogicalType, v: Exclude<Value, null>): string {
  switch (t.kind) {
    case 'timestamp':
      return isoTimestamp(String(v), false);
    case 'timestamptz':
      return isoTimestamp(String(v), true);
    case 'bytes':
      return Buffer.from(v as Uint8Array).toString('base64');
    case 'array':
      return jsonOf(t, v, { bigNumbers: 'string' });
    case 'bool':
      return v ? 'true' : 'false';
    default:
      return String(v);
  }
}

const TIMESTAMP = /^(\d{4,}-\d\d-\d\d) (\d\d:\d\d:\d\d(?:\.\d+)?)([+-]\d\d(?::?\d\d)?)?$/;

/** 'YYYY-MM-DD HH:MM:SS[.ffffff][+00]' → ISO-8601 'YYYY-MM-DDTHH:MM:SS[.ffffff][Z]'; other text (infinity, BC) as it is. */
function isoTimestamp(text: string, hasZone: boolean): string {
  const m = TIMESTAMP.exec(text);
  if (!m) return text;
  const zone = m[3];
  if (!hasZone || zone === undefined) return `${m[1]}T${m[2]}`;
  if (/^[+-]00(:?00)?$/.test(zone)) return `${m[1]}T${m[2]}Z`;
  const hh = zone.slice(0, 3);
  const mm = zone.length > 3 ? zone.slice(-2) : '00';
  return `${m[1]}T${m[2]}${hh}:${mm}`;
}

/**
 * The inverse of textValue, for reading a destination back (`verify`): the text form the
 * workspace loader casts (model-loader's valueToText), so only bytes and lists need work.
 */
export function valueFromText(t: LogicalType, text: string): Value {
  if (t.kind === 'bytes') return new Uint8Array(Buffer.from(text, 'base64'));
  if (t.kind === 'array') return valueFromJson(t, JSON.parse(text));
  return text;
}

/** A value parsed from JSON (Redis `format: json`) back into the Batch form. */
export function valueFromJson(t: LogicalType, v: unknown): Value {
  if (v === null || v === undefined) return null;
  if (t.kind === 'json') return JSON.stringify(v);
  if (t.kind === 'bytes') return new Uint8Array(Buffer.from(String(v), 'base64'));
  if (t.kind === 'array') return Array.isArray(v) ? v.map((x) => valueFromJson(t.element, x)) : null;
  if (t.kind === 'bool') return Boolean(v);
  return String(v);
}
