import { quotedIdentifier, listValue, type DuckDBConnection, type DuckDBValue } from '@duckdb/node-api';
import type { Column, Value } from '../types/logical-type.js';
import { streamBatches } from '../duckdb/duckdb-relation.js';
import type { SyncMode } from '../config/pipeline-schema.js';
import { ModelError } from '../errors.js';
import { SNAP, type SnapshotSummary } from './snapshot-store.js';

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
  /** Number the rows to send (and mirror's removed keys) in key order, not storage order: the same delta is then batched the same way every time. */
  isKeyOrdered?: boolean;
  /** Rows in the snapshot (readSnapshotMeta counted them when it was attached). */
  snapshotRows: number;
  /** Row count and hash aggregates of the snapshot, when it has them. */
  snapshotSummary?: SnapshotSummary;
}

export interface DiffCounts {
  read: number;
  added: number;
  changed: number;
  removed: number;
  /** Changed rows the mode does not send (insert, insert_new): counted in `changed`, not in the delta. */
  notSent: number;
  /** Snapshot keys no longer in the model (in mirror mode the same rows as `removed`). */
  gone: number;
  /** Rows refused before sending (a NUL byte in text), by row number in _outflow_delta… */
  invalid: number;
  /** Highest cursor value among the rows read (text), for incremental mode. */
  maxCursor?: string;
  /**
   * The model's row count and hash aggregates equal the snapshot's: every row was delivered
   * as it is now, so there is nothing to send, delete or record (the snapshot stays as is).
   */
  matchesSnapshot?: boolean;
}

const q = quotedIdentifier;

/**
 * Classifies model rows against the snapshot, inside DuckDB, leaving temp tables:
 *  _outflow_mh      key + row hash of every model row (narrow: the whole model never crosses into JS)
 *  _outflow_d       keys, _h, _added and _bad of every row to send or refuse
 *  _outflow_delta   _rn (1..n, no gaps), _h, _added, and the mapped columns of rows to send
 *                   (on a full sync built lazily from the view _outflow_delta_view, see ensureDeltaTable)
 *  _outflow_gone    keys of snapshot rows that left the model
 *  _outflow_removed _rn + keys of snapshot rows that left the model, in mirror mode (its deletes)
 *  _outflow_rejected _rn of rows the destination refused (filled later)
 *  _outflow_rejected_removed _rn (of _outflow_removed) of deletes the destination refused (filled later)
 */
export async function computeDiff(d: DiffInput): Promise<DiffCounts> {
  const c = d.connection;
  // Temp objects of an earlier run on this connection, whichever kind they were.
  for (const name of ['_outflow_d', '_outflow_delta', FULL_DELTA_VIEW, '_outflow_cand', '_outflow_j']) await dropTempObject(c, name);
  await c.run(`CREATE OR REPLACE TEMP TABLE _outflow_rejected (_rn BIGINT)`);
  await c.run(`CREATE OR REPLACE TEMP TABLE _outflow_rejected_removed (_rn BIGINT)`);
  const s = diffSql(d);
  return d.isFull ? fullDiff(d, s) : incrementalDiff(d, s);
}

interface DiffSql {
  modelSql: string;
  params?: string[];
  keyList: string;
  hash: string;
  bad: string;
  match: (a: string, b: string) => string;
  /** The mapped model columns, qualified by `alias`. */
  cols: (alias: string) => string;
  /** The window order numbering rows to send: by key when isKeyOrdered, else none (storage order). */
  rowOrder: string;
}

function diffSql(d: DiffInput): DiffSql {
  const mapped = d.columns.map((col, i) => `${q(d.modelNames[i])} AS ${q(col.name)}`).join(', ');
  const cursorCol = d.cursor ? `, ${q(d.cursor.column)} AS _outflow_cursor` : '';
  const where = d.cursor?.after !== undefined ? ` WHERE ${q(d.cursor.column)} > $1` : '';
  return {
    modelSql: `SELECT ${mapped}${cursorCol} FROM ${d.relation}${where}`,
    params: d.cursor?.after !== undefined ? [d.cursor.after] : undefined,
    keyList: d.keys.map(q).join(', '),
    hash: `hash(${d.columns.map((col) => q(col.name)).join(', ')})`,
    bad: d.badValueSql ?? 'NULL::VARCHAR',
    match: (a, b) => d.keys.map((k) => `${a}.${q(k)} = ${b}.${q(k)}`).join(' AND '),
    cols: (alias) => d.columns.map((col) => `${alias}.${q(col.name)}`).join(', '),
    rowOrder: d.isKeyOrdered ? `ORDER BY ${d.keys.map(q).join(', ')}` : '',
  };
}

/** Every model row is sent: one pass for keys, hashes and unstorable values; the rows to send are a view over the model. */
async function fullDiff(d: DiffInput, s: DiffSql): Promise<DiffCounts> {
  const c = d.connection;
  await c.run(
    `CREATE OR REPLACE TEMP TABLE _outflow_mh AS SELECT ${s.keyList}, ${s.hash} AS _h, ${s.bad} AS _bad${d.cursor ? ', _outflow_cursor' : ''} FROM (${s.modelSql}) AS m`,
    s.params,
  );
  await checkKeys(c, d.keys);
  await c.run(`CREATE TEMP VIEW _outflow_d AS SELECT ${s.keyList}, _h, true AS _added, _bad FROM _outflow_mh`);
  // A view, not a copy: copying the model into a numbered table would materialise it whole
  // a second time (measured: ~0.5 s and ~150 MB of DuckDB memory per 1M rows of the bench
  // model, spilling beyond memory_limit); a full sync into an empty target streams the view
  // and needs no row numbers. ensureDeltaTable builds the numbered table only when a
  // destination asks for numbered rows (staging, isolating rejected rows).
  await c.run(
    `CREATE TEMP VIEW ${FULL_DELTA_VIEW} AS
       SELECT ${s.hash} AS _h, true AS _added, ${s.cols('m')} FROM (${s.modelSql}) AS m WHERE ${s.bad} IS NULL`,
  );
  await createEmptyRemoved(c, s);
  const counts = (
    await c.runAndReadAll(
      `SELECT count(*) AS read, count(*) FILTER (WHERE _bad IS NOT NULL) AS invalid
              ${d.cursor ? ', CAST(max(_outflow_cursor) AS VARCHAR) AS max_cursor' : ''} FROM _outflow_mh`,
    )
  ).getRowObjects()[0];
  return {
    read: Number(counts.read),
    added: Number(counts.read),
    changed: 0,
    removed: 0,
    notSent: 0,
    gone: 0,
    invalid: Number(counts.invalid),
    maxCursor: counts.max_cursor == null ? undefined : String(counts.max_cursor),
  };
}

/**
 * Against the snapshot. One pass over the model hashes each row into the narrow
 * _outflow_mh; when its row count and hash aggregates equal the snapshot's, nothing changed
 * and the diff stops there. Otherwise one FULL OUTER JOIN with the snapshot yields the
 * added, changed and gone keys at once, and only those rows are read from the model again,
 * with all their columns, and checked for unstorable values. Measured on the bench's
 * 5M-row model: hashing ~0.2 s, the join ~0.4 s; the GROUP BY over every key for the
 * duplicate check and a second join for gone keys (~0.3 s each) are avoided.
 */
async function incrementalDiff(d: DiffInput, s: DiffSql): Promise<DiffCounts> {
  const c = d.connection;
  await c.run(
    `CREATE OR REPLACE TEMP TABLE _outflow_mh AS SELECT ${s.keyList}, ${s.hash} AS _h${d.cursor ? ', _outflow_cursor' : ''} FROM (${s.modelSql}) AS m`,
    s.params,
  );
  const model = (
    await c.runAndReadAll(
      `SELECT count(*) AS n, CAST(coalesce(sum(_h::HUGEINT), 0) AS VARCHAR) AS hash_sum, CAST(coalesce(bit_xor(_h), 0) AS VARCHAR) AS hash_xor
              ${d.cursor ? ', CAST(max(_outflow_cursor) AS VARCHAR) AS max_cursor' : ''} FROM _outflow_mh`,
    )
  ).getRowObjects()[0];
  const read = Number(model.n);
  const maxCursor = model.max_cursor == null ? undefined : String(model.max_cursor);
  const snap = d.snapshotSummary;
  // With a cursor the model holds only the rows past it, so its aggregates say nothing.
  if (!d.cursor && snap && snap.rows === read && snap.hashSum === String(model.hash_sum) && snap.hashXor === String(model.hash_xor)) {
    await createEmptyDiff(c, s);
    await c.run('DROP TABLE _outflow_mh');
    return { read, added: 0, changed: 0, removed: 0, notSent: 0, gone: 0, invalid: 0, maxCursor, matchesSnapshot: true };
  }
  // A cursor reads only new rows: snapshot rows outside its window have not left the model.
  const join = d.cursor ? 'LEFT JOIN' : 'FULL OUTER JOIN';
  const keyOf = d.keys.map((k) => `coalesce(m.${q(k)}, s.${q(k)}) AS ${q(k)}`).join(', ');
  // _k: 'a' added (no snapshot row), 'c' changed (the hash differs), 'g' gone (no model row).
  await c.run(
    `CREATE TEMP TABLE _outflow_j AS
       SELECT ${keyOf}, m._h, CASE WHEN m._h IS NULL THEN 'g' WHEN s._h IS NULL THEN 'a' ELSE 'c' END AS _k
         FROM _outflow_mh AS m ${join} ${SNAP}.snapshot AS s ON ${s.match('m', 's')}
        WHERE s._h IS NULL OR m._h IS NULL OR s._h <> m._h`,
  );
  await checkKeysAfterJoin(c, d, read);
  const onlyNew = d.mode === 'insert' || d.mode === 'insert_new';
  // The rows to send, read from the model again by key (a join with the few keys that
  // differ), and checked for unstorable values only now: unchanged rows need no check.
  await c.run(
    `CREATE TEMP TABLE _outflow_cand AS
       SELECT *, ${s.bad} AS _bad FROM (
         SELECT j._h, j._k = 'a' AS _added, ${s.cols('m')}
           FROM (${s.modelSql}) AS m
           JOIN (SELECT * FROM _outflow_j WHERE _k = 'a' ${onlyNew ? '' : "OR _k = 'c'"}) AS j ON ${s.match('m', 'j')}
       ) AS x`,
    s.params,
  );
  await c.run(`CREATE TEMP VIEW _outflow_d AS SELECT ${s.keyList}, _h, _added, _bad FROM _outflow_cand`);
  // Row numbers run 1..n over the rows that will be sent, in the order they are stored,
  // so a destination can re-read any range of them.
  await c.run(
    `CREATE TEMP TABLE _outflow_delta AS SELECT row_number() OVER (${s.rowOrder}) AS _rn, _h, _added, ${s.cols('x')} FROM _outflow_cand AS x WHERE _bad IS NULL`,
  );
  await c.run(`CREATE OR REPLACE TEMP TABLE _outflow_gone AS SELECT ${s.keyList} FROM _outflow_j WHERE _k = 'g'`);
  await c.run(
    `CREATE OR REPLACE TEMP TABLE _outflow_removed AS
       SELECT row_number() OVER (${s.rowOrder}) AS _rn, ${s.keyList} FROM _outflow_gone ${d.mode === 'mirror' ? '' : 'WHERE false'}`,
  );
  // The model-wide tables are not read again: dropped, they free DuckDB's memory for the
  // snapshot commit (a 5M-row _outflow_mh is ~80 MB; at a 48MB memory_limit the commit's
  // DELETE could not pin a block while they were kept).
  const kinds = (
    await c.runAndReadAll(`SELECT count(*) FILTER (WHERE _k = 'c') AS changed, count(*) FILTER (WHERE _k = 'g') AS gone FROM _outflow_j`)
  ).getRowObjects()[0];
  await c.run('DROP TABLE _outflow_mh');
  await c.run('DROP TABLE _outflow_j');
  const counts = (
    await c.runAndReadAll(
      `SELECT count(*) FILTER (WHERE _added) AS added, count(*) FILTER (WHERE NOT _added) AS changed,
              count(*) FILTER (WHERE _bad IS NOT NULL) AS invalid, (SELECT count(*) FROM _outflow_removed) AS removed
         FROM _outflow_cand`,
    )
  ).getRowObjects()[0];
  return {
    read,
    added: Number(counts.added),
    // insert and insert_new leave changed rows out of the delta: they count as changed, not sent.
    changed: onlyNew ? Number(kinds.changed) : Number(counts.changed),
    notSent: onlyNew ? Number(kinds.changed) : 0,
    gone: Number(kinds.gone),
    removed: Number(counts.removed),
    invalid: Number(counts.invalid),
    maxCursor,
  };
}

/** The diff's temp objects, empty and shaped as usual, for a model that matches the snapshot. */
async function createEmptyDiff(c: DuckDBConnection, s: DiffSql): Promise<void> {
  await c.run(
    `CREATE TEMP TABLE _outflow_cand AS
       SELECT *, ${s.bad} AS _bad FROM (SELECT NULL::UBIGINT AS _h, false AS _added, ${s.cols('m')} FROM (${s.modelSql}) AS m LIMIT 0) AS x`,
    s.params,
  );
  await c.run(`CREATE TEMP VIEW _outflow_d AS SELECT ${s.keyList}, _h, _added, _bad FROM _outflow_cand`);
  await c.run(`CREATE TEMP TABLE _outflow_delta AS SELECT 0::BIGINT AS _rn, _h, _added, ${s.cols('x')} FROM _outflow_cand AS x`);
  await createEmptyRemoved(c, s);
}

async function createEmptyRemoved(c: DuckDBConnection, s: DiffSql): Promise<void> {
  await c.run(`CREATE OR REPLACE TEMP TABLE _outflow_gone AS SELECT ${s.keyList} FROM _outflow_mh WHERE false`);
  await c.run(`CREATE OR REPLACE TEMP TABLE _outflow_removed AS SELECT 0::BIGINT AS _rn, ${s.keyList} FROM _outflow_mh WHERE false`);
}

/**
 * NULL and duplicate keys, found from the join rather than by grouping every key. A model
 * row with a NULL key, or with a key the snapshot lacks, is 'a' in _outflow_j, and those
 * are few: they are checked directly. The other model rows each match a snapshot key, and
 * snapshot keys are unique, so they match `snapshot rows − gone` distinct keys: more rows
 * than that means two share a key, and only then is every key grouped to name them.
 */
async function checkKeysAfterJoin(c: DuckDBConnection, d: DiffInput, read: number): Promise<void> {
  await checkKeys(c, d.keys, `(SELECT ${d.keys.map(q).join(', ')} FROM _outflow_j WHERE _k = 'a')`);
  if (d.cursor) {
    // Gone keys are not computed with a cursor: group the rows read (only those past the cursor).
    await checkKeys(c, d.keys);
    return;
  }
  const n = (
    await c.runAndReadAll(
      `SELECT count(*) FILTER (WHERE _k = 'a') AS added, count(*) FILTER (WHERE _k = 'g') AS gone FROM _outflow_j`,
    )
  ).getRowObjects()[0];
  if (read - Number(n.added) > d.snapshotRows - Number(n.gone)) await checkKeys(c, d.keys);
}

/** Unnumbered rows to send on a full sync (see computeDiff); undefined when _outflow_delta is built eagerly. */
export const FULL_DELTA_VIEW = '_outflow_delta_view';

/**
 * Builds the numbered _outflow_delta from the full-sync view when it does not exist yet
 * (an incremental diff builds it eagerly, so then this does nothing). Row numbers are
 * fixed once, in the table, so every later range read sees the same numbering.
 */
export async function ensureDeltaTable(c: DuckDBConnection, keyOrder?: string[]): Promise<void> {
  const exists = (
    await c.runAndReadAll(`SELECT count(*) AS n FROM duckdb_tables() WHERE temporary AND table_name = '_outflow_delta'`)
  ).getRows()[0][0];
  if (Number(exists) > 0) return;
  const order = keyOrder?.length ? `ORDER BY ${keyOrder.map((k) => q(k)).join(', ')}` : '';
  await c.run(`CREATE TEMP TABLE _outflow_delta AS SELECT row_number() OVER (${order}) AS _rn, * FROM ${FULL_DELTA_VIEW}`);
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
async function checkKeys(c: DuckDBConnection, keys: string[], relation = '_outflow_mh'): Promise<void> {
  const keyList = keys.map(q).join(', ');
  const nulls = (
    await c.runAndReadAll(`SELECT count(*) AS n FROM ${relation} AS r WHERE ${keys.map((k) => `${q(k)} IS NULL`).join(' OR ')}`)
  ).getRowObjects()[0];
  if (Number(nulls.n) > 0) {
    throw new ModelError(`the model has ${nulls.n} row(s) with a NULL in the primary key (${keys.join(', ')}); nothing was written`);
  }
  const dups = (
    await c.runAndReadAll(
      `SELECT ${keys.map((k) => `CAST(${q(k)} AS VARCHAR) AS ${q(k)}`).join(', ')}, count(*) AS n FROM ${relation} AS r GROUP BY ${keyList} HAVING count(*) > 1 ORDER BY n DESC LIMIT 5`,
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
