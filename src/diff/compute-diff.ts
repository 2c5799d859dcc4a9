import { quotedIdentifier, listValue, type DuckDBConnection, type DuckDBValue } from '@duckdb/node-api';
import type { Column, Value } from '../types/logical-type.js';
import { streamBatches } from '../sources/duckdb/duckdb-relation.js';
import type { SyncMode } from '../config/pipeline-schema.js';
import { ModelError } from '../errors.js';
import { SNAP } from './snapshot-store.js';

export interface DiffInput {
  connection: DuckDBConnection;
  relation: string;
  /** Model column names, in destination column order. */
  modelNames: string[];
  /** Destination columns (names after mapping) with the model's types. */
  columns: Column[];
  keys: string[];
  mode: SyncMode;
  /** Treat the snapshot as empty: every model row is sent. */
  isFull: boolean;
  cursor?: { column: string; after?: string };
  /** DuckDB expression naming the first column holding a value the destination cannot store. */
  badValueSql?: string;
}

export interface DiffCounts {
  read: number;
  added: number;
  changed: number;
  removed: number;
  /** Rows refused before sending (a NUL byte in text), by row number in _outflow_delta… */
  invalid: number;
  /** Highest cursor value among the rows read (text), for incremental mode. */
  maxCursor?: string;
}

const q = quotedIdentifier;

/**
 * Classifies model rows against the snapshot, inside DuckDB, leaving temp tables:
 *  _outflow_mh      key + row hash of every model row (narrow: the whole model never crosses into JS)
 *  _outflow_delta   _rn (1..n, no gaps), _h, _added, and the mapped columns of rows to send
 *                   (on a full sync built lazily from the view _outflow_delta_view, see ensureDeltaTable)
 *  _outflow_removed _rn + keys of snapshot rows that left the model (mirror)
 *  _outflow_rejected _rn of rows the destination refused (filled later)
 *  _outflow_rejected_removed _rn (of _outflow_removed) of deletes the destination refused (filled later)
 */
export async function computeDiff(d: DiffInput): Promise<DiffCounts> {
  const c = d.connection;
  const mapped = d.columns.map((col, i) => `${q(d.modelNames[i])} AS ${q(col.name)}`).join(', ');
  const cursorCol = d.cursor ? `, ${q(d.cursor.column)} AS _outflow_cursor` : '';
  const where = d.cursor?.after !== undefined ? ` WHERE ${q(d.cursor.column)} > $1` : '';
  const params = d.cursor?.after !== undefined ? [d.cursor.after] : undefined;
  const modelSql = `SELECT ${mapped}${cursorCol} FROM ${d.relation}${where}`;
  const keyList = d.keys.map(q).join(', ');
  const hash = `hash(${d.columns.map((col) => q(col.name)).join(', ')})`;
  const bad = d.badValueSql ?? 'NULL::VARCHAR';

  // One pass over the model: keys, hash, the first unstorable value, the cursor.
  await c.run(
    `CREATE OR REPLACE TEMP TABLE _outflow_mh AS SELECT ${keyList}, ${hash} AS _h, ${bad} AS _bad${d.cursor ? ', _outflow_cursor' : ''} FROM (${modelSql}) AS m`,
    params,
  );
  await checkKeys(c, d.keys);
  const snapRef = `${SNAP}.snapshot`;
  const match = (a: string, b: string) => d.keys.map((k) => `${a}.${q(k)} = ${b}.${q(k)}`).join(' AND ');
  const onlyNew = d.mode === 'insert' || d.mode === 'insert_new';
  // Temp objects of an earlier run on this connection, whichever kind they were.
  for (const name of ['_outflow_d', '_outflow_delta', FULL_DELTA_VIEW]) await dropTempObject(c, name);
  if (d.isFull) {
    // A view, not a copy: on a full sync it is all of _outflow_mh.
    await c.run(`CREATE TEMP VIEW _outflow_d AS SELECT ${keyList}, _h, true AS _added, _bad FROM _outflow_mh`);
  } else {
    await c.run(
      `CREATE OR REPLACE TEMP TABLE _outflow_d AS
         SELECT ${d.keys.map((k) => `m.${q(k)}`).join(', ')}, m._h, s._h IS NULL AS _added, m._bad
           FROM _outflow_mh AS m LEFT JOIN ${snapRef} AS s ON ${match('m', 's')}
          WHERE s._h IS NULL ${onlyNew ? '' : 'OR s._h <> m._h'}`,
    );
  }
  // Row numbers run 1..n over the rows that will be sent, in the order they are stored,
  // so a destination can re-read any range of them.
  const cols = d.columns.map((col) => `m.${q(col.name)}`).join(', ');
  if (d.isFull) {
    // Everything goes, so the rows to send are the model itself: a view over it. Copying
    // the model into a numbered table would materialise it whole a second time (measured:
    // ~0.5 s and ~150 MB of DuckDB memory per 1M rows of the bench model, spilling beyond
    // memory_limit); a full sync into an empty target streams the view and needs no row
    // numbers. ensureDeltaTable builds the numbered table only when a destination asks for
    // numbered rows (staging, isolating rejected rows).
    await c.run(
      `CREATE TEMP VIEW _outflow_delta_view AS
         SELECT ${hash} AS _h, true AS _added, ${cols} FROM (${modelSql}) AS m WHERE ${bad} IS NULL`,
    );
  } else {
    await c.run(
      `CREATE TEMP TABLE _outflow_delta AS
         SELECT row_number() OVER () AS _rn, d._h, d._added, ${cols}
           FROM (${modelSql}) AS m JOIN (SELECT * FROM _outflow_d WHERE _bad IS NULL) AS d ON ${match('m', 'd')}`,
      params,
    );
  }
  await c.run(`CREATE OR REPLACE TEMP TABLE _outflow_rejected (_rn BIGINT)`);
  await c.run(`CREATE OR REPLACE TEMP TABLE _outflow_rejected_removed (_rn BIGINT)`);
  const removedSql =
    d.mode === 'mirror' && !d.isFull
      ? `SELECT row_number() OVER () AS _rn, ${d.keys.map((k) => `s.${q(k)}`).join(', ')} FROM ${snapRef} AS s ANTI JOIN _outflow_mh AS m ON ${match('s', 'm')}`
      : `SELECT 0::BIGINT AS _rn, ${keyList} FROM _outflow_mh WHERE false`;
  await c.run(`CREATE OR REPLACE TEMP TABLE _outflow_removed AS ${removedSql}`);

  const counts = (
    await c.runAndReadAll(
      `SELECT (SELECT count(*) FROM _outflow_mh) AS read,
              (SELECT count(*) FILTER (WHERE _added) FROM _outflow_d) AS added,
              (SELECT count(*) FILTER (WHERE NOT _added) FROM _outflow_d) AS changed,
              (SELECT count(*) FROM _outflow_removed) AS removed,
              (SELECT count(*) FROM _outflow_d WHERE _bad IS NOT NULL) AS invalid
              ${d.cursor ? ', (SELECT CAST(max(_outflow_cursor) AS VARCHAR) FROM _outflow_mh) AS max_cursor' : ''}`,
    )
  ).getRowObjects()[0];
  return {
    read: Number(counts.read),
    added: Number(counts.added),
    changed: Number(counts.changed),
    removed: Number(counts.removed),
    invalid: Number(counts.invalid),
    maxCursor: counts.max_cursor == null ? undefined : String(counts.max_cursor),
  };
}

/** Unnumbered rows to send on a full sync (see computeDiff); undefined when _outflow_delta is built eagerly. */
export const FULL_DELTA_VIEW = '_outflow_delta_view';

/**
 * Builds the numbered _outflow_delta from the full-sync view when it does not exist yet
 * (an incremental diff builds it eagerly, so then this does nothing). Row numbers are
 * fixed once, in the table, so every later range read sees the same numbering.
 */
export async function ensureDeltaTable(c: DuckDBConnection): Promise<void> {
  const exists = (
    await c.runAndReadAll(`SELECT count(*) AS n FROM duckdb_tables() WHERE temporary AND table_name = '_outflow_delta'`)
  ).getRows()[0][0];
  if (Number(exists) > 0) return;
  await c.run(`CREATE TEMP TABLE _outflow_delta AS SELECT row_number() OVER () AS _rn, * FROM ${FULL_DELTA_VIEW}`);
}

/** Drops a temp table or view of this name, whichever it is (DROP VIEW on a table is an error in DuckDB). */
async function dropTempObject(c: DuckDBConnection, name: string): Promise<void> {
  const kinds = (
    await c.runAndReadAll(
      `SELECT 'TABLE' AS k FROM duckdb_tables() WHERE temporary AND table_name = $1
       UNION ALL SELECT 'VIEW' FROM duckdb_views() WHERE temporary AND view_name = $1`,
      [name],
    )
  ).getRows();
  for (const [kind] of kinds) await c.run(`DROP ${kind === 'VIEW' ? 'VIEW' : 'TABLE'} IF EXISTS ${q(name)}`);
}

/** NULL or duplicate keys make a model unusable: say which, with a few sample keys, before anything is written. */
async function checkKeys(c: DuckDBConnection, keys: string[]): Promise<void> {
  const keyList = keys.map(q).join(', ');
  const nulls = (
    await c.runAndReadAll(`SELECT count(*) AS n FROM _outflow_mh WHERE ${keys.map((k) => `${q(k)} IS NULL`).join(' OR ')}`)
  ).getRowObjects()[0];
  if (Number(nulls.n) > 0) {
    throw new ModelError(`the model has ${nulls.n} row(s) with a NULL in the primary key (${keys.join(', ')}); nothing was written`);
  }
  const dups = (
    await c.runAndReadAll(
      `SELECT ${keys.map((k) => `CAST(${q(k)} AS VARCHAR) AS ${q(k)}`).join(', ')}, count(*) AS n FROM _outflow_mh GROUP BY ${keyList} HAVING count(*) > 1 ORDER BY n DESC LIMIT 5`,
    )
  ).getRowObjects();
  if (dups.length > 0) {
    const samples = dups.map((r) => `(${keys.map((k) => `${k}=${String(r[k])}`).join(', ')}) ×${r.n}`).join('; ');
    throw new ModelError(`the model has duplicate primary keys (${keys.join(', ')}): ${samples}; nothing was written`);
  }
}

/** Rows refused before sending (a value the destination cannot store): key and column. */
export async function invalidRows(c: DuckDBConnection, keyColumns: Column[], limit: number): Promise<{ key: Record<string, Value>; column: string }[]> {
  const rows = await readRows(c, `SELECT ${keyColumns.map((k) => q(k.name)).join(', ')}, _bad FROM _outflow_d WHERE _bad IS NOT NULL LIMIT ${limit}`, [
    ...keyColumns,
    { name: '_bad', type: { kind: 'text' }, nullable: true },
  ]);
  return rows.map((r) => ({ key: Object.fromEntries(keyColumns.map((k, i) => [k.name, r[i]])), column: String(r[keyColumns.length]) }));
}

/** Keys of delta rows (or, with `table`, of removed keys) by row number, for the rejected-row report. */
export async function keysByRn(
  c: DuckDBConnection,
  keyColumns: Column[],
  rns: number[],
  table: '_outflow_delta' | '_outflow_removed' = '_outflow_delta',
): Promise<Map<number, Record<string, Value>>> {
  const out = new Map<number, Record<string, Value>>();
  if (rns.length === 0) return out;
  const rows = await readRows(
    c,
    `SELECT _rn, ${keyColumns.map((k) => q(k.name)).join(', ')} FROM ${table} WHERE _rn IN (SELECT unnest($1::BIGINT[]))`,
    [{ name: '_rn', type: { kind: 'int64' }, nullable: false }, ...keyColumns],
    [listValue(rns.map((n) => BigInt(n)))],
  );
  for (const r of rows) out.set(Number(r[0]), Object.fromEntries(keyColumns.map((k, i) => [k.name, r[i + 1]])));
  return out;
}

/** A small query's rows as outflow Values (for reports and samples, never for the model itself). */
export async function readRows(c: DuckDBConnection, sql: string, columns: Column[], params?: DuckDBValue[]): Promise<Value[][]> {
  const rows: Value[][] = [];
  for await (const b of streamBatches(c, sql, { columns }, 10_000, params)) rows.push(...b.rows);
  return rows;
}
