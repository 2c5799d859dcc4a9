import type { Model } from './source.js';
import { PENDING_HASH, PENDING_KIND, PENDING_PART, PENDING_PN, type PendingKind, type WarehouseDiffSpec } from './warehouse-diff.js';

/**
 * The pieces of the warehouse-side diff that read the same in every SQL dialect, built
 * from the few things that differ (quoting, the row hash, the partition hash, table
 * names). Each connector's dialect assembles its statements from these and adds what is
 * its own (Postgres fills the pending table from a data-modifying CTE, BigQuery and
 * DuckDB create it from a query; the snapshot advance is MERGE or INSERT … ON CONFLICT).
 */
export interface SqlFlavor {
  /** A quoted identifier. */
  q(name: string): string;
  /** This pipeline's state table, fully qualified and quoted. */
  table(spec: WarehouseDiffSpec, role: 'snapshot' | 'pending' | 'meta'): string;
  /** The model as a relation usable after FROM, aliased `model`. */
  relation(model: Model): string;
  /** An expression hashing a row of these column expressions (never NULL, NULL-aware). */
  rowHash(exprs: string[]): string;
  /** An expression 0..n-1 from a hash of these key expressions (n > 1). */
  partitionOf(keyExprs: string[], n: number): string;
  /** A string literal of a constant outflow chooses (never a user value). */
  literal(text: string): string;
}

export const STATE_TABLE_SUFFIX = { snapshot: 'snapshot', pending: 'pending', meta: 'meta' } as const;

/** `<stem>_<role>`: the unqualified name of a state table. */
export function stateTableName(spec: WarehouseDiffSpec, role: keyof typeof STATE_TABLE_SUFFIX): string {
  return `${spec.stateName}_${STATE_TABLE_SUFFIX[role]}`;
}

/** Every model row's mapped columns and row hash: the one pass over the model. */
export function modelHashSql(spec: WarehouseDiffSpec, f: SqlFlavor): string {
  const cols = spec.columns.map((c, i) => `model.${f.q(spec.modelNames[i])} AS ${f.q(c.name)}`);
  const hash = f.rowHash(spec.modelNames.map((n) => `model.${f.q(n)}`));
  return `SELECT ${cols.join(', ')}, ${hash} AS ${PENDING_HASH} FROM ${f.relation(spec.model)}`;
}

/**
 * Model rows (`m`) against the snapshot: every key once, with its kind — 'a', 'c', 'r',
 * or 'u' (unchanged) — and `_outflow_sh`, the snapshot's hash (NULL when the snapshot has
 * no row). On a full sync the snapshot is not read: every model row is 'a'.
 */
export function classifiedSql(spec: WarehouseDiffSpec, f: SqlFlavor, isFull: boolean, nullHash: string): string {
  const h = PENDING_HASH;
  if (isFull) {
    return `SELECT ${spec.columns.map((c) => `m.${f.q(c.name)}`).join(', ')}, m.${h}, ${nullHash} AS _outflow_sh, ${f.literal('a')} AS ${PENDING_KIND} FROM m`;
  }
  const cols = spec.columns.map((c) => (spec.keys.includes(c.name) ? `COALESCE(m.${f.q(c.name)}, s.${f.q(c.name)}) AS ${f.q(c.name)}` : `m.${f.q(c.name)}`));
  const kind = `CASE WHEN m.${h} IS NULL THEN ${f.literal('r')} WHEN s.${h} IS NULL THEN ${f.literal('a')} WHEN m.${h} <> s.${h} THEN ${f.literal('c')} ELSE ${f.literal('u')} END`;
  const on = spec.keys.map((k) => `m.${f.q(k)} = s.${f.q(k)}`).join(' AND ');
  return `SELECT ${cols.join(', ')}, m.${h}, s.${h} AS _outflow_sh, ${kind} AS ${PENDING_KIND}
    FROM m FULL OUTER JOIN ${f.table(spec, 'snapshot')} AS s ON ${on}`;
}

/**
 * The pending rows from the classified set `j`: the rows that differ, each with its
 * partition and a row number within the partition (the number the destination's
 * rejections come back with).
 */
export function pendingRowsSql(spec: WarehouseDiffSpec, f: SqlFlavor): string {
  const part = spec.partitions > 1 ? f.partitionOf(spec.keys.map((k) => f.q(k)), spec.partitions) : '0';
  const cols = [...spec.columns.map((c) => f.q(c.name)), PENDING_HASH, PENDING_KIND].join(', ');
  return `SELECT ${cols}, ${PENDING_PART}, ROW_NUMBER() OVER (PARTITION BY ${PENDING_PART}) AS ${PENDING_PN}
    FROM (SELECT ${cols}, ${part} AS ${PENDING_PART} FROM j WHERE ${PENDING_KIND} <> ${f.literal('u')}) AS x`;
}

/** Column list of the pending table, in the order pendingRowsSql yields them. */
export function pendingColumns(spec: WarehouseDiffSpec, f: SqlFlavor): string {
  return [...spec.columns.map((c) => f.q(c.name)), PENDING_HASH, PENDING_KIND, PENDING_PART, PENDING_PN].join(', ');
}

export function pendingCountsSql(spec: WarehouseDiffSpec, f: SqlFlavor): string {
  return `SELECT ${PENDING_PART} AS part, ${PENDING_KIND} AS kind, COUNT(*) AS n FROM ${f.table(spec, 'pending')} GROUP BY ${PENDING_PART}, ${PENDING_KIND}`;
}

/**
 * NULL keys show up as added rows (a NULL never matches); a key the model holds twice
 * shows up as two pending rows when neither copy is unchanged. Both are cheap to find in
 * the pending table; the one case it cannot see (one copy unchanged) the engine finds by
 * counting (see warehouse-diff.ts).
 */
export function pendingKeyProblemsSql(spec: WarehouseDiffSpec, f: SqlFlavor): string {
  const keys = spec.keys.map((k) => f.q(k));
  const fromModel = `${PENDING_KIND} <> ${f.literal('r')}`;
  return `SELECT
      (SELECT COUNT(*) FROM ${f.table(spec, 'pending')} WHERE ${fromModel} AND (${keys.map((k) => `${k} IS NULL`).join(' OR ')})) AS null_keys,
      (SELECT COUNT(*) FROM (SELECT ${keys.join(', ')} FROM ${f.table(spec, 'pending')} WHERE ${fromModel} GROUP BY ${keys.join(', ')} HAVING COUNT(*) > 1) AS d) AS duplicate_keys`;
}

/** Keys the model holds more than once, with a text form of the key (`keyText` renders the key expressions). */
export function duplicateKeysSql(spec: WarehouseDiffSpec, f: SqlFlavor, keyText: (exprs: string[]) => string): string {
  const keys = spec.modelNames.filter((_, i) => spec.keys.includes(spec.columns[i].name)).map((n) => `model.${f.q(n)}`);
  return `SELECT ${keyText(keys)} AS key_text, COUNT(*) AS n FROM ${f.relation(spec.model)} GROUP BY ${keys.join(', ')} HAVING COUNT(*) > 1 ORDER BY n DESC LIMIT 5`;
}

export function readPartitionSql(spec: WarehouseDiffSpec, f: SqlFlavor, partParam: string, kinds: PendingKind[]): string {
  const cols = [PENDING_PN, PENDING_KIND, ...spec.columns.map((c) => f.q(c.name))].join(', ');
  return `SELECT ${cols} FROM ${f.table(spec, 'pending')} WHERE ${PENDING_PART} = ${partParam} AND ${PENDING_KIND} IN (${kinds.map((k) => f.literal(k)).join(', ')})`;
}

/** Key columns of the pending table, for an empty snapshot shaped like them. */
export function snapshotShapeSql(spec: WarehouseDiffSpec, f: SqlFlavor): string {
  return `SELECT ${spec.keys.map((k) => f.q(k)).join(', ')}, ${PENDING_HASH} FROM ${f.table(spec, 'pending')}`;
}

/** The pending rows one partition delivered: sent kinds minus rejected rows, removed keys minus refused deletes. */
export function advancedRowsWhere(f: SqlFlavor, partParam: string, sentKinds: PendingKind[], notIn: (list: string) => string, rejected: string, rejectedRemoved: string, forgetRemoved: boolean): string {
  const sent = `(${PENDING_KIND} IN (${sentKinds.map((k) => f.literal(k)).join(', ')}) AND ${notIn(rejected)})`;
  const removed = forgetRemoved ? ` OR (${PENDING_KIND} = ${f.literal('r')} AND ${notIn(rejectedRemoved)})` : '';
  return `${PENDING_PART} = ${partParam} AND (${sent}${removed})`;
}

/**
 * The advance as one MERGE (DuckDB, BigQuery): delivered rows take their new hash, removed
 * keys leave the snapshot. `params` are the dialect's placeholders for the partition and
 * the two lists of refused row numbers; `notIn(list)` tests that the row is not in one.
 */
export function mergeAdvanceSql(
  spec: WarehouseDiffSpec,
  f: SqlFlavor,
  a: { sentKinds: PendingKind[]; forgetRemoved: boolean },
  params: { part: string; rejected: string; rejectedRemoved: string },
  notIn: (list: string) => string,
): string {
  const keys = spec.keys.map((k) => f.q(k));
  const where = advancedRowsWhere(f, params.part, a.sentKinds, notIn, params.rejected, params.rejectedRemoved, a.forgetRemoved);
  return `MERGE INTO ${f.table(spec, 'snapshot')} AS s
USING (SELECT ${keys.join(', ')}, ${PENDING_HASH}, ${PENDING_KIND} FROM ${f.table(spec, 'pending')} WHERE ${where}) AS p
ON ${keys.map((k) => `s.${k} = p.${k}`).join(' AND ')}
WHEN MATCHED AND p.${PENDING_KIND} = ${f.literal('r')} THEN DELETE
WHEN MATCHED THEN UPDATE SET ${PENDING_HASH} = p.${PENDING_HASH}
WHEN NOT MATCHED AND p.${PENDING_KIND} <> ${f.literal('r')} THEN INSERT (${keys.join(', ')}, ${PENDING_HASH}) VALUES (${keys.map((k) => `p.${k}`).join(', ')}, p.${PENDING_HASH})`;
}
