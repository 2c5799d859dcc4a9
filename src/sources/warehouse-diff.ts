import type { Batch, Column, Schema } from '../types/logical-type.js';
import type { Model } from './source.js';

/**
 * The warehouse-side diff (`diff: warehouse`): the snapshot of delivered keys and row
 * hashes lives in the source warehouse, in a schema outflow owns, and each run computes the
 * added / changed / removed rows there with one statement. Only those rows leave the
 * warehouse. A source that can do this offers a `WarehouseDiff`: its SQL dialect (plain
 * text, so it can be held against golden files) and a way to run it. src/diff/warehouse-diff.ts
 * drives both; it never knows which warehouse it talks to.
 */
export interface WarehouseDiff {
  dialect: WarehouseDiffDialect;
  sql: WarehouseSql;
}

/** What one pipeline's warehouse diff works on. */
export interface WarehouseDiffSpec {
  model: Model;
  /** The schema (BigQuery: dataset) outflow owns in the warehouse, `outflow_state` by default. */
  stateSchema: string;
  /** This pipeline's stem for its state tables (`<stem>_snapshot`, `<stem>_pending`, `<stem>_meta`), letters, digits and _ only. */
  stateName: string;
  /** Model column names, in destination column order. */
  modelNames: string[];
  /** Destination columns (names after mapping) with the model's types. */
  columns: Column[];
  /** Primary key, destination names. */
  keys: string[];
  /** Partitions the changed rows are split into by a hash of the key (1: no split). */
  partitions: number;
}

/** One statement and its positional parameters (the dialect writes its own placeholders). */
export interface Statement {
  sql: string;
  params?: StatementParam[];
}

/** Parameter values: a partition number, a fingerprint, lists of row numbers. */
export type StatementParam = number | string | null | number[];

/**
 * Kinds of pending rows: 'a' added (no snapshot row), 'c' changed (the hash differs),
 * 'r' removed (in the snapshot, gone from the model).
 */
export type PendingKind = 'a' | 'c' | 'r';

/** Columns every pending row carries besides the mapped columns. */
export const PENDING_PN = '_outflow_pn';
export const PENDING_KIND = '_outflow_kind';
export const PENDING_PART = '_outflow_part';
export const PENDING_HASH = '_outflow_h';

/** The shape of rows read back from the pending table: row number within its partition, kind, then the mapped columns. */
export function pendingSchema(spec: WarehouseDiffSpec): Schema {
  return {
    columns: [
      { name: PENDING_PN, type: { kind: 'int64' }, nullable: false },
      { name: PENDING_KIND, type: { kind: 'text' }, nullable: false },
      ...spec.columns.map((c) => ({ ...c, nullable: true })),
    ],
  };
}

export interface AdvanceSpec {
  part: number;
  /** Kinds that were sent and are recorded as delivered ('a', and 'c' unless the mode sends only new rows). */
  sentKinds: PendingKind[];
  /** Removed keys leave the snapshot (mirror deleted them; upsert and update forget them). */
  forgetRemoved: boolean;
  /** Row numbers (_outflow_pn) of sent rows the destination refused: they stay pending. */
  rejected: number[];
  /** Row numbers of removed keys whose delete was refused: they stay in the snapshot. */
  rejectedRemoved: number[];
}

/**
 * SQL text for one warehouse. Every method is pure; statements run in order on one
 * session. Rows a statement returns are read by column name (lower case).
 */
export interface WarehouseDiffDialect {
  /** The state schema and this pipeline's meta table, created if missing. */
  ensureState(spec: WarehouseDiffSpec): Statement[];
  /** One row `fingerprint` (or none): the mapping the snapshot was built for. */
  readMeta(spec: WarehouseDiffSpec): Statement;
  /** Records the fingerprint (null: the snapshot is being rebuilt, the next run must be full). */
  writeMeta(spec: WarehouseDiffSpec, fingerprint: string | null): Statement[];
  /**
   * The diff: fills `<stem>_pending` with the added, changed and removed rows (mapped
   * columns, hash, kind, partition, row number within the partition), in one statement
   * over the model and the snapshot (`isFull`: the snapshot is ignored, every row is
   * added). The last statement returns one row: `read` (model rows) and `snapshot_rows`.
   */
  diff(spec: WarehouseDiffSpec, opts: { isFull: boolean }): Statement[];
  /** Rows `part`, `kind`, `n` of the pending table. */
  pendingCounts(spec: WarehouseDiffSpec): Statement;
  /** One row `null_keys`, `duplicate_keys` over pending rows that came from the model. */
  pendingKeyProblems(spec: WarehouseDiffSpec): Statement;
  /** Up to 5 rows `key_text`, `n`: keys the model holds more than once (read only when a check failed). */
  duplicateKeys(spec: WarehouseDiffSpec): Statement;
  /** Pending rows of one partition and of these kinds, shaped as `pendingSchema`. */
  readPartition(spec: WarehouseDiffSpec, part: number, kinds: PendingKind[]): Statement;
  /** An empty snapshot with the key columns' types (taken from the pending table) for a full sync. */
  resetSnapshot(spec: WarehouseDiffSpec): Statement[];
  /** Records one partition's delivered rows in the snapshot: run in one transaction. */
  advance(spec: WarehouseDiffSpec, a: AdvanceSpec): Statement[];
  dropPending(spec: WarehouseDiffSpec): Statement[];
}

/** Runs a dialect's statements on the source's own connection. Errors come out classified (transient or not). */
export interface WarehouseSql {
  /** Words for messages naming where the state lives, e.g. `postgres schema outflow_state`. */
  stateLabel(spec: WarehouseDiffSpec): string;
  /** Runs the statements in order; `transaction`: all or none. */
  run(statements: Statement[], opts?: { transaction?: boolean }): Promise<void>;
  /** Runs the statements in order and returns the last one's rows (small results only). */
  rows(statements: Statement[]): Promise<Record<string, unknown>[]>;
  /** Streams a statement's rows as Batches of `schema` (values in outflow's conventions). */
  stream(statement: Statement, schema: Schema, batchSize: number, signal?: AbortSignal): AsyncIterable<Batch>;
  /**
   * When creating the state failed for lack of a privilege (or a read-only source), the
   * error to show instead: naming the schema and the privilege to grant.
   */
  stateAccessError(e: unknown, spec: WarehouseDiffSpec): Error | undefined;
}
