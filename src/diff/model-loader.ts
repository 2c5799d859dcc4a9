import { quotedIdentifier, type DuckDBConnection } from '@duckdb/node-api';
import type { Batch, LogicalType, Schema, Value } from '../types/logical-type.js';
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
    for (const row of batch.rows) {
      for (let i = 0; i < cols.length; i++) {
        const text = valueToText(row[i], cols[i].type);
        if (text === null) appender.appendNull();
        else appender.appendVarchar(text);
      }
      appender.endRow();
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
  if (t.kind === 'array') {
    if (!Array.isArray(v)) throw new Error(`expected an array, got ${typeof v}`);
    return JSON.stringify(v.map((x) => (t.element.kind === 'array' ? JSON.parse(valueToText(x, t.element) ?? 'null') : valueToText(x, t.element))));
  }
  if (v instanceof Uint8Array) return Buffer.from(v).toString('hex');
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'number') return Number.isNaN(v) ? 'nan' : v === Infinity ? 'inf' : v === -Infinity ? '-inf' : String(v);
  return String(v);
}
