import { quotedIdentifier, type DuckDBConnection } from '@duckdb/node-api';
import type { Batch, LogicalType, Schema, Value } from '../types/logical-type.js';
import { formatType } from '../types/logical-type.js';
import { ModelError } from '../errors.js';
import { duckdbTypeFor } from '../types/duckdb-types.js';

/**
 * Loads a stream of Batches into a DuckDB temp table with the schema's types, batch by
 * batch, so sources that are not DuckDB (and a destination read back for `verify`) can be
 * diffed with SQL. Values go in through the appender as text and are cast by DuckDB, which
 * keeps int64, decimals and microsecond timestamps exact.
 */
export async function loadBatchesIntoDuckdb(
  connection: DuckDBConnection,
  table: string,
  schema: Schema,
  batches: AsyncIterable<Batch>,
  onBatch?: (rows: number) => void,
): Promise<number> {
  const cols = schema.columns;
  const t = quotedIdentifier(table);
  const loadName = `${table}__load`;
  const load = quotedIdentifier(loadName);
  await connection.run(
    `CREATE OR REPLACE TEMP TABLE ${t} (${cols.map((c) => `${quotedIdentifier(c.name)} ${duckdbTypeFor(c.type)}`).join(', ')})`,
  );
  await connection.run(`CREATE OR REPLACE TEMP TABLE ${load} (${cols.map((c) => `${quotedIdentifier(c.name)} VARCHAR`).join(', ')})`);
  const castList = cols.map((c) => castFromText(quotedIdentifier(c.name), c.type)).join(', ');
  let total = 0;
  for await (const batch of batches) {
    const appender = await connection.createAppender(loadName, 'main', 'temp');
    let i = 0;
    try {
      for (const row of batch.rows) {
        for (i = 0; i < cols.length; i++) {
          const text = valueToText(row[i], cols[i].type);
          if (text === null) appender.appendNull();
          else appender.appendVarchar(text);
        }
        appender.endRow();
      }
    } catch (e) {
      try {
        appender.closeSync();
      } catch {
        // a half-appended row; the workspace is discarded with the failed run anyway
      }
      const col = cols[Math.min(i, cols.length - 1)];
      throw new ModelError(`column "${col.name}" (${formatType(col.type)}): ${(e as Error).message}`, { cause: e });
    }
    appender.flushSync();
    appender.closeSync();
    await connection.run(`INSERT INTO ${t} SELECT ${castList} FROM ${load}`);
    await connection.run(`DELETE FROM ${load}`);
    total += batch.rows.length;
    onBatch?.(batch.rows.length);
  }
  await connection.run(`DROP TABLE ${load}`);
  return total;
}

/** DuckDB expression turning the text form back into the typed value. */
function castFromText(expr: string, t: LogicalType): string {
  if (t.kind === 'bytes') return `from_hex(${expr})`;
  if (t.kind === 'array') {
    const depth = arrayDepth(t);
    const leaf = leafType(t);
    const asText = `CAST(CAST(${expr} AS JSON) AS VARCHAR${'[]'.repeat(depth)})`;
    if (leaf.kind === 'bytes') return depth === 1 ? `list_transform(${asText}, x -> from_hex(x))` : `CAST(NULL AS BLOB${'[]'.repeat(depth)})`;
    return `CAST(${asText} AS ${duckdbTypeFor(t)})`;
  }
  return `CAST(${expr} AS ${duckdbTypeFor(t)})`;
}

function arrayDepth(t: LogicalType): number {
  return t.kind === 'array' ? 1 + arrayDepth(t.element) : 0;
}

function leafType(t: LogicalType): LogicalType {
  return t.kind === 'array' ? leafType(t.element) : t;
}

/** A value in the text form castFromText reads. Arrays become JSON arrays of element texts. */
export function valueToText(v: Value, t: LogicalType): string | null {
  if (v === null || v === undefined) return null;
  if (t.kind !== 'array' && Array.isArray(v)) {
    // A Postgres integer[] column may hold 2-D values ({{1,2},{3,4}}): its type has no
    // dimension count. Refused, since String() would flatten it into a wrong value.
    throw new Error(
      `a value is a multi-dimensional array, but the model declares one dimension; cast the column in the model (to_json(col), or col::text)`,
    );
  }
  if (t.kind === 'array') {
    if (!Array.isArray(v)) throw new Error(`expected an array, got ${typeof v}`);
    return JSON.stringify(v.map((x) => (t.element.kind === 'array' ? JSON.parse(valueToText(x, t.element) ?? 'null') : valueToText(x, t.element))));
  }
  if (t.kind === 'interval' && typeof v === 'string') return intervalText(v);
  if ((t.kind === 'date' || t.kind === 'timestamp' || t.kind === 'timestamptz') && typeof v === 'string' && v.endsWith(' BC')) {
    // Postgres prints BC dates as '0044-03-15 BC' ('… 10:00:00+00 BC'); DuckDB reads '0044-03-15 (BC) …'.
    const body = v.slice(0, -3);
    return `${body.slice(0, 10)} (BC)${body.slice(10)}`;
  }
  if (v instanceof Uint8Array) return Buffer.from(v).toString('hex');
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'number') return Number.isNaN(v) ? 'nan' : v === Infinity ? 'inf' : v === -Infinity ? '-inf' : String(v);
  return String(v);
}

/**
 * Interval texts DuckDB's cast does not read: BigQuery's 'Y-M D H:M:S[.F]' (a sign per part),
 * and Postgres' mixed signs ('-1 years -2 mons +3 days'), whose '+' DuckDB refuses.
 */
const SQL_STANDARD_INTERVAL = /^(-?)(\d+)-(\d+) (-?\d+) (-?)(\d+):(\d+):(\d+(?:\.\d+)?)$/;

/** Interval text DuckDB reads, e.g. '-14 months 3 days -04:05:06.5' for BigQuery's '-1-2 3 -4:5:6.5'. */
function intervalText(text: string): string {
  const m = SQL_STANDARD_INTERVAL.exec(text);
  if (!m) return text.replace(/(^| )\+(?=\d)/g, '$1');
  const [, ymSign, years, months, days, timeSign, h, mi, sec] = m;
  const totalMonths = Number(years) * 12 + Number(months);
  return `${totalMonths === 0 ? '' : ymSign}${totalMonths} months ${days} days ${timeSign}${h}:${mi}:${sec}`;
}
