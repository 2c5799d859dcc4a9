import type { Value } from '../../types/logical-type.js';
import type { BigqueryCell, BigqueryCellValue, BigqueryField, BigqueryRow } from './bigquery-types.js';

/**
 * Decoding of the REST f/v row format into the value conventions of types/logical-type.ts.
 * Every scalar arrives as a string, so INT64, NUMERIC and BIGNUMERIC stay exact when taken
 * from the text (the client's own parsing would go through JS numbers or its wrapper classes).
 */
type ScalarDecoder = (v: string) => Value;
type CellDecoder = (v: BigqueryCellValue) => Value;

/** One decoder per column, built once per result; `decodeRows` is then a plain loop. */
export function rowDecoder(fields: BigqueryField[]): (rows: BigqueryRow[]) => Value[][] {
  const decoders = fields.map(cellDecoder);
  const width = decoders.length;
  return (rows) => {
    const out: Value[][] = new Array(rows.length);
    for (let r = 0; r < rows.length; r++) {
      const cells = rows[r].f;
      const row: Value[] = new Array(width);
      for (let c = 0; c < width; c++) row[c] = decoders[c](cells[c].v);
      out[r] = row;
    }
    return out;
  };
}

function cellDecoder(field: BigqueryField): CellDecoder {
  const type = field.type.toUpperCase();
  if (type === 'RECORD' || type === 'STRUCT') {
    const toJson = (v: BigqueryCellValue): Value => jsonOfScalar(field, v);
    if (field.mode === 'REPEATED') return (v) => (v === null ? [] : (v as BigqueryCell[]).map((c) => toJson(c.v)));
    return (v) => (v === null ? null : toJson(v));
  }
  const scalar = scalarDecoder(type);
  // BigQuery has no NULL arrays or NULL elements: an absent array reads as [].
  if (field.mode === 'REPEATED') return (v) => (v === null ? [] : (v as BigqueryCell[]).map((c) => scalar(c.v as string)));
  return (v) => (v === null ? null : scalar(v as string));
}

function scalarDecoder(type: string): ScalarDecoder {
  switch (type) {
    case 'INTEGER':
    case 'INT64':
      return (v) => BigInt(v);
    case 'FLOAT':
    case 'FLOAT64':
      return Number; // also reads 'NaN', 'Infinity', '-Infinity'
    case 'BOOLEAN':
    case 'BOOL':
      return (v) => v === 'true';
    case 'BYTES':
      return decodeBase64;
    case 'TIMESTAMP':
      return timestampText;
    case 'DATETIME':
      return (v) => trimFraction(v.replace('T', ' '));
    case 'TIME':
      return trimFraction;
    default:
      // NUMERIC/BIGNUMERIC (exact decimal text), STRING, DATE, JSON (JSON text),
      // GEOGRAPHY (WKT), INTERVAL, RANGE: the API's text is already the convention.
      return (v) => v;
  }
}

function decodeBase64(v: string): Uint8Array {
  const buf = Buffer.from(v, 'base64');
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

const MICROS_PER_DAY = 86_400_000_000n;

/**
 * TIMESTAMP as 'YYYY-MM-DD HH:MM:SS[.ffffff]+00'. With formatOptions.useInt64Timestamp the
 * API sends microseconds since the epoch; without it, float seconds such as
 * '1.700000000123456E9', which are read exactly from the digits rather than through a double.
 */
export function timestampText(v: string): string {
  return microsToText(/^-?\d+$/.test(v) ? BigInt(v) : floatSecondsToMicros(v)) + '+00';
}

function microsToText(micros: bigint): string {
  let days = micros / MICROS_PER_DAY;
  let rem = micros % MICROS_PER_DAY;
  if (rem < 0n) {
    rem += MICROS_PER_DAY;
    days -= 1n;
  }
  const d = new Date(Number(days) * 86_400_000);
  const seconds = Number(rem / 1_000_000n);
  const fraction = Number(rem % 1_000_000n);
  const date = `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1, 2)}-${pad(d.getUTCDate(), 2)}`;
  const time = `${pad(Math.floor(seconds / 3600), 2)}:${pad(Math.floor(seconds / 60) % 60, 2)}:${pad(seconds % 60, 2)}`;
  return `${date} ${time}${fractionText(fraction)}`;
}

function floatSecondsToMicros(v: string): bigint {
  const m = /^(-?)(\d+)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(v);
  if (!m) throw new Error(`unexpected BigQuery TIMESTAMP value ${JSON.stringify(v)}`);
  const [, sign, whole, frac = '', exp = '0'] = m;
  const shift = Number(exp) + 6; // digits after the point that belong to whole microseconds
  const digits = whole + frac;
  const point = whole.length + shift;
  const intDigits = point <= 0 ? '0' : point >= digits.length ? digits + '0'.repeat(point - digits.length) : digits.slice(0, point);
  const micros = BigInt(intDigits);
  return sign === '-' ? -micros : micros;
}

/** Same text form as the DuckDB source: no trailing zeros in the fraction, no fraction when zero. */
function fractionText(micros: number): string {
  if (micros === 0) return '';
  return '.' + pad(micros, 6).replace(/0+$/, '');
}

function trimFraction(v: string): string {
  return v.replace(/\.(\d*?)0*$/, (_, kept: string) => (kept ? `.${kept}` : ''));
}

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0');
}

/**
 * A RECORD as JSON text. INT64/NUMERIC/BIGNUMERIC are written as JSON number tokens from
 * their exact digits (JSON has no precision limit; Postgres jsonb keeps them exact).
 */
function jsonOfScalar(field: BigqueryField, v: BigqueryCellValue): string {
  if (v === null) return 'null';
  const type = field.type.toUpperCase();
  switch (type) {
    case 'RECORD':
    case 'STRUCT': {
      const cells = (v as { f: BigqueryCell[] }).f;
      const subfields = field.fields ?? [];
      const parts: string[] = new Array(subfields.length);
      for (let i = 0; i < subfields.length; i++) {
        parts[i] = `${JSON.stringify(subfields[i].name)}:${jsonOfCell(subfields[i], cells[i].v)}`;
      }
      return `{${parts.join(',')}}`;
    }
    case 'INTEGER':
    case 'INT64':
    case 'NUMERIC':
    case 'BIGNUMERIC':
    case 'BIGDECIMAL':
    case 'JSON':
      return v as string;
    case 'BOOLEAN':
    case 'BOOL':
      return v === 'true' ? 'true' : 'false';
    case 'FLOAT':
    case 'FLOAT64': {
      const n = Number(v);
      return Number.isFinite(n) ? String(n) : JSON.stringify(v); // NaN/Infinity are not JSON numbers
    }
    case 'BYTES':
      return JSON.stringify(v); // base64, as BigQuery's own TO_JSON_STRING writes bytes
    default:
      return JSON.stringify(scalarDecoder(type)(v as string));
  }
}

function jsonOfCell(field: BigqueryField, v: BigqueryCellValue): string {
  if (field.mode !== 'REPEATED') return jsonOfScalar(field, v);
  const items = (v ?? []) as BigqueryCell[];
  return `[${items.map((c) => jsonOfScalar(field, c.v)).join(',')}]`;
}
