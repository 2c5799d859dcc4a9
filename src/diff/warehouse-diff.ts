import { quotedIdentifier as q, type DuckDBConnection } from '@duckdb/node-api';
import type { AdvanceSpec, PendingKind, WarehouseDiff, WarehouseDiffSpec } from '../sources/warehouse-diff.js';
import { pendingSchema, PENDING_KIND, PENDING_PN } from '../sources/warehouse-diff.js';
import type { SyncMode } from '../config/pipeline-schema.js';
import { ModelError } from '../errors.js';
import { loadBatchesIntoDuckdb } from './model-loader.js';
import { FULL_DELTA_VIEW } from './compute-diff.js';

/**
 * The engine's side of `diff: warehouse` (the source's dialect writes the SQL, this
 * decides what runs when). A run:
 *   1. openWarehouseState: the state schema and meta table exist; the stored fingerprint.
 *   2. computeWarehouseDiff: one statement in the warehouse fills the pending table with
 *      the added, changed and removed rows, split into partitions; keys are checked.
 *   3. per partition: loadPartition streams its pending rows into the run's DuckDB
 *      workspace, shaped like the local diff's output, and the usual delivery path sends
 *      them; advancePartition then records in the snapshot exactly the rows the
 *      destination took (rejected rows stay pending: the next diff finds them again).
 *   4. finishWarehouseDiff: the fingerprint (after a full sync) and the pending table dropped.
 * A run that dies between a delivery and its advance leaves the snapshot behind the
 * destination: the next run finds those rows again and sends them once more, which every
 * merge mode makes harmless (an upsert of the same values, a delete of a deleted key).
 */

export interface WarehouseDiffCounts {
  read: number;
  added: number;
  changed: number;
  removed: number;
  snapshotRows: number;
  /** Per partition with work: its number and counts. */
  parts: PartitionCounts[];
}

export interface PartitionCounts {
  part: number;
  added: number;
  changed: number;
  removed: number;
}

/** Creates the state schema and meta table when missing; returns the fingerprint the snapshot was built for. */
export async function openWarehouseState(wd: WarehouseDiff, spec: WarehouseDiffSpec): Promise<{ fingerprint?: string }> {
  try {
    await wd.sql.run(wd.dialect.ensureState(spec));
  } catch (e) {
    throw wd.sql.stateAccessError(e, spec) ?? e;
  }
  const rows = await wd.sql.rows([wd.dialect.readMeta(spec)]);
  const fp = rows[0]?.fingerprint;
  return { fingerprint: fp == null ? undefined : String(fp) };
}

/**
 * The diff in the warehouse. On a full sync the stored fingerprint is cleared first, so
 * that a run that dies before every partition is delivered is followed by a full sync
 * again (a mirror's full sync deletes what the model lacks; a half-built snapshot could not).
 */
export async function computeWarehouseDiff(
  wd: WarehouseDiff,
  spec: WarehouseDiffSpec,
  opts: { isFull: boolean; hadFingerprint: boolean },
): Promise<WarehouseDiffCounts> {
  if (opts.isFull && opts.hadFingerprint) await wd.sql.run(wd.dialect.writeMeta(spec, null));
  const totals = (await wd.sql.rows(wd.dialect.diff(spec, { isFull: opts.isFull })))[0] ?? {};
  const byPart = new Map<number, PartitionCounts>();
  for (const r of await wd.sql.rows([wd.dialect.pendingCounts(spec)])) {
    const part = Number(r.part);
    const c = byPart.get(part) ?? { part, added: 0, changed: 0, removed: 0 };
    const n = Number(r.n);
    if (r.kind === 'a') c.added += n;
    else if (r.kind === 'c') c.changed += n;
    else if (r.kind === 'r') c.removed += n;
    byPart.set(part, c);
  }
  const parts = [...byPart.values()].sort((a, b) => a.part - b.part);
  const sum = (k: 'added' | 'changed' | 'removed') => parts.reduce((s, p) => s + p[k], 0);
  const counts: WarehouseDiffCounts = {
    read: Number(totals.read ?? 0),
    snapshotRows: Number(totals.snapshot_rows ?? 0),
    added: sum('added'),
    changed: sum('changed'),
    removed: sum('removed'),
    parts,
  };
  await checkKeys(wd, spec, counts);
  if (opts.isFull) await wd.sql.run(wd.dialect.resetSnapshot(spec), { transaction: true });
  return counts;
}

/**
 * NULL keys and keys the model holds twice, before anything is sent. The pending table
 * shows most of them; a duplicate whose one copy is unchanged shows only in the counts:
 * model rows matched to the snapshot (read − added) exceed the snapshot keys they match
 * (snapshot rows − removed), which are unique.
 */
async function checkKeys(wd: WarehouseDiff, spec: WarehouseDiffSpec, c: WarehouseDiffCounts): Promise<void> {
  const p = (await wd.sql.rows([wd.dialect.pendingKeyProblems(spec)]))[0] ?? {};
  if (Number(p.null_keys) > 0) {
    throw new ModelError(`the model has ${p.null_keys} row(s) with a NULL in the primary key (${spec.keys.join(', ')}); nothing was written`);
  }
  if (Number(p.duplicate_keys) > 0 || c.read - c.added > c.snapshotRows - c.removed) {
    const dups = await wd.sql.rows([wd.dialect.duplicateKeys(spec)]);
    const samples = dups.map((r) => `${String(r.key_text)} ×${r.n}`).join('; ');
    throw new ModelError(`the model has duplicate primary keys (${spec.keys.join(', ')}): ${samples || 'found by count'}; nothing was written`);
  }
}

export interface PartitionLoad {
  /** Kinds sent to the destination: 'a', and 'c' unless the mode inserts only. */
  sentKinds: PendingKind[];
  /** mirror deletes removed keys: they are read into _outflow_removed. */
  isMirror: boolean;
  batchSize: number;
  /** DuckDB expression naming the first column holding a value the destination cannot store. */
  badValueSql?: string;
  signal?: AbortSignal;
  onRows?: (n: number) => void;
}

export interface LoadedPartition {
  added: number;
  changed: number;
  removed: number;
  /** Rows refused before sending (a value the destination cannot store). */
  invalid: number;
}

/**
 * One partition's pending rows, streamed out of the warehouse into the workspace and
 * shaped as the local diff leaves its result (see compute-diff.ts), so the delivery path
 * is the same: _outflow_delta (_rn 1..n, _h, _added, _pn, columns), _outflow_removed,
 * _outflow_gone, _outflow_d, _outflow_rejected(_removed). `_pn` is the row's number in
 * the warehouse's pending table, which the advance names rejected rows by.
 */
export async function loadPartition(
  wd: WarehouseDiff,
  spec: WarehouseDiffSpec,
  c: DuckDBConnection,
  part: number,
  opts: PartitionLoad,
): Promise<LoadedPartition> {
  const kinds: PendingKind[] = opts.isMirror ? [...opts.sentKinds, 'r'] : opts.sentKinds;
  const schema = pendingSchema(spec);
  for (const name of ['_outflow_d', FULL_DELTA_VIEW]) await c.run(`DROP VIEW IF EXISTS ${name}`);
  for (const name of ['_outflow_cand', '_outflow_delta', '_outflow_gone', '_outflow_removed']) await c.run(`DROP TABLE IF EXISTS ${name}`);
  await loadBatchesIntoDuckdb(c, 'outflow_pending', schema, wd.sql.stream(wd.dialect.readPartition(spec, part, kinds), schema, opts.batchSize, opts.signal), opts.onRows);
  const cols = spec.columns.map((col) => q(col.name)).join(', ');
  const keys = spec.keys.map(q).join(', ');
  const sent = opts.sentKinds.map((k) => `'${k}'`).join(', ');
  await c.run(
    `CREATE TEMP TABLE _outflow_cand AS
       SELECT *, ${opts.badValueSql ?? 'NULL::VARCHAR'} AS _bad FROM (
         SELECT hash(${cols}) AS _h, ${PENDING_KIND} = 'a' AS _added, ${PENDING_PN} AS _pn, ${cols}
           FROM outflow_pending WHERE ${PENDING_KIND} IN (${sent})) AS x`,
  );
  await c.run(`CREATE TEMP VIEW _outflow_d AS SELECT ${keys}, _h, _added, _bad FROM _outflow_cand`);
  await c.run(`CREATE TEMP TABLE _outflow_delta AS SELECT row_number() OVER (ORDER BY _pn) AS _rn, _h, _added, _pn, ${cols} FROM _outflow_cand WHERE _bad IS NULL`);
  // What a full sync streams when it loads straight into an empty target (see deliverBulk).
  await c.run(`CREATE TEMP VIEW ${FULL_DELTA_VIEW} AS SELECT _h, _added, ${cols} FROM _outflow_delta`);
  await c.run(`CREATE TEMP TABLE _outflow_gone AS SELECT ${keys} FROM outflow_pending WHERE ${PENDING_KIND} = 'r'`);
  await c.run(
    `CREATE TEMP TABLE _outflow_removed AS
       SELECT row_number() OVER (ORDER BY ${PENDING_PN}) AS _rn, ${keys}, ${PENDING_PN} AS _pn FROM outflow_pending WHERE ${PENDING_KIND} = 'r' ${opts.isMirror ? '' : 'AND false'}`,
  );
  await c.run(`CREATE OR REPLACE TEMP TABLE _outflow_rejected (_rn BIGINT)`);
  await c.run(`CREATE OR REPLACE TEMP TABLE _outflow_rejected_removed (_rn BIGINT)`);
  const n = (
    await c.runAndReadAll(
      `SELECT count(*) FILTER (WHERE _added) AS added, count(*) FILTER (WHERE NOT _added) AS changed,
              count(*) FILTER (WHERE _bad IS NOT NULL) AS invalid, (SELECT count(*) FROM _outflow_gone) AS removed FROM _outflow_cand`,
    )
  ).getRowObjects()[0];
  await c.run('DROP TABLE outflow_pending');
  return { added: Number(n.added), changed: Number(n.changed), removed: Number(n.removed), invalid: Number(n.invalid) };
}

/** What advancePartition needs from the workspace: the pending row numbers of rows the destination did not take. */
export async function refusedRows(c: DuckDBConnection): Promise<{ rejected: number[]; rejectedRemoved: number[] }> {
  const list = async (sql: string) => (await c.runAndReadAll(sql)).getRows().map((r) => Number(r[0]));
  return {
    rejected: await list(
      `SELECT _pn FROM _outflow_delta WHERE _rn IN (SELECT _rn FROM _outflow_rejected) UNION ALL SELECT _pn FROM _outflow_cand WHERE _bad IS NOT NULL`,
    ),
    rejectedRemoved: await list(`SELECT _pn FROM _outflow_removed WHERE _rn IN (SELECT _rn FROM _outflow_rejected_removed)`),
  };
}

/** Which pending kinds a mode sends, and whether removed keys leave the snapshot (as the local diff's commit does). */
export function advanceRules(mode: SyncMode): { sentKinds: PendingKind[]; forgetRemoved: boolean } {
  const onlyNew = mode === 'insert' || mode === 'insert_new';
  return { sentKinds: onlyNew ? ['a'] : ['a', 'c'], forgetRemoved: mode === 'mirror' || mode === 'upsert' || mode === 'update' };
}

/** Records one partition's delivered rows in the warehouse snapshot, in one transaction there. */
export async function advancePartition(wd: WarehouseDiff, spec: WarehouseDiffSpec, a: AdvanceSpec): Promise<void> {
  await wd.sql.run(wd.dialect.advance(spec, a), { transaction: true });
}

/** After every partition: the fingerprint the snapshot now matches, and the pending table dropped. */
export async function finishWarehouseDiff(wd: WarehouseDiff, spec: WarehouseDiffSpec, fingerprint: string): Promise<void> {
  await wd.sql.run(wd.dialect.writeMeta(spec, fingerprint), { transaction: true });
  await wd.sql.run(wd.dialect.dropPending(spec));
}
