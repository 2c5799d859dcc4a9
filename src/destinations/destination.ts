import type { Batch, Column, LogicalType, Value } from '../types/logical-type.js';
import type { SyncMode } from '../config/pipeline-schema.js';

/**
 * The destination contract: what the engine asks of every destination, whichever engine
 * or API is behind it. A destination is created by src/destinations/create-destination.ts
 * from its config; the engine reads its `capabilities` (plain data) and drives one of two
 * shapes — `bulk` (stage + merge, databases) or `records` (bounded batches of typed rows,
 * APIs and caches). docs/destinations.md explains how to write one.
 */

export interface TargetColumn {
  name: string;
  /** The database's own spelling, e.g. `character varying(100)`. */
  typeName: string;
  /** The logical type the column holds, when outflow knows it. */
  type?: LogicalType;
  nullable: boolean;
}

export interface TargetTable {
  schema: string;
  name: string;
  columns: TargetColumn[];
  primaryKey: string[];
  /** Unique constraints/indexes (each a column list), the primary key included. */
  uniqueKeys: string[][];
}

/** A row the destination refused: its row number in the run, the column when known, and why (no secrets). */
export interface RejectedRow {
  rn: number;
  column?: string;
  reason: string;
  /** The row's key, when the engine cannot find it by `rn` (a delete of a row the model never numbered: a full mirror sync). */
  key?: Record<string, Value>;
}

// ---------------------------------------------------------------------------------------
// Capabilities: plain data the engine reads. It never asks which destination it drives.
// ---------------------------------------------------------------------------------------

export interface DestinationCapabilities {
  /** `bulk`: BulkDestination (stage + merge). `records`: RecordDestination (write batches). */
  shape: 'bulk' | 'records';
  /** Sync modes the destination honours; a pipeline asking for another fails at `validate`. */
  modes: readonly SyncMode[];
  /** A merge is one transaction: all of it lands or none (row isolation inside it). */
  transactions: boolean;
  /** `verify` can read the destination back (readBack is implemented). */
  readBack: boolean;
  /** Modes that need a primary key or unique constraint on the pipeline's key in the target table. */
  uniqueKeyModes: readonly SyncMode[];
  /** Most rows the destination takes in one `write` (records shape); the engine never sends more. */
  maxBatchRows?: number;
  /**
   * Values the destination cannot store. Rows holding one are refused before anything is
   * sent (and reported with key, column and this reason), so one bad value never fails a load.
   */
  unstorable?: UnstorableValues;
}

export interface UnstorableValues {
  /** A NUL character (U+0000) in text, JSON or text inside arrays; the reason, e.g. "text contains a NUL byte, which Postgres cannot store". */
  nulInText?: string;
}

// ---------------------------------------------------------------------------------------
// The run's identity: the seam for a delivery ledger (issue 15).
// ---------------------------------------------------------------------------------------

/**
 * Who is delivering: a transactional destination may record it in the same transaction as
 * the merge (a delivery ledger), so that after a crash between the merge's COMMIT and the
 * snapshot's commit the next run can tell the merge landed.
 */
export interface DeliveryIdentity {
  pipeline: string;
  runId: number;
  /** The snapshot version this delivery produces once committed (the stored version + 1; 1 on a first run). */
  snapshotVersion: number;
  /** The snapshot fingerprint (mapping, key, destination label, DuckDB version). */
  fingerprint: string;
}

// ---------------------------------------------------------------------------------------
// What every destination has.
// ---------------------------------------------------------------------------------------

export interface DestinationBase {
  readonly kind: string;
  readonly capabilities: DestinationCapabilities;
  /** Human-readable target name with no secrets, e.g. `postgres 127.0.0.1:5432/test public.t`. */
  readonly label: string;
  /**
   * The target as it is today; undefined when it does not exist. A destination without a
   * schema to check (an HTTP API) omits `describe`, and then `createTable` and `incompatibility` too.
   */
  describe?(): Promise<TargetTable | undefined>;
  /** Why a model column of type `from` cannot be written into `to`, or undefined when it can. */
  incompatibility?(from: LogicalType, to: TargetColumn): string | undefined;
  createTable?(columns: Column[], primaryKey: string[]): Promise<void>;
  /**
   * Names user actions may use, already quoted for the destination's own language:
   * `{{target_table}}`, `{{staging_table}}`. A name left out is "not known at this point".
   */
  actionNames(): Promise<ActionNames>;
  /** Runs a user action (actions with `on: destination`); absent when the destination runs none. */
  execute?(sql: string): Promise<void>;
  /**
   * Why `sql` could not run against the destination as it is now (a table it names does not
   * exist), found without running it; undefined when it could, or when that cannot be told.
   */
  checkStatement?(sql: string): Promise<string | undefined>;
  /** The target's rows, typed as outflow values, in bounded batches. Present when `capabilities.readBack`. */
  readBack?(columns: Column[], batchSize: number): AsyncIterable<Batch>;
  /** Drops outflow's helper objects (staging tables). */
  cleanup(): Promise<void>;
  close(): Promise<void>;
}

export interface ActionNames {
  staging_table?: string;
  target_table?: string;
}

// ---------------------------------------------------------------------------------------
// Bulk shape: stage encoded rows, then one merge per run.
// ---------------------------------------------------------------------------------------

/**
 * How a bulk destination wants its rows encoded, in neutral terms; src/duckdb/ renders it
 * (DuckDB computes the bytes, JavaScript only forwards them). One line per row, fields
 * separated by a tab, `\N` for NULL, and a backslash before a backslash, tab, newline or
 * carriage return inside a value: Postgres' COPY text and MySQL's LOAD DATA both read it.
 * The value styles are where they differ.
 */
export interface DelimitedTextEncoding {
  format: 'delimited-text';
  /** `tf`: t / f (Postgres); `10`: 1 / 0 (MySQL). */
  bool: 'tf' | '10';
  /** `pg-hex`: \x0a0b… (bytea input); `hex`: bare hex digits (the destination unhexes, e.g. LOAD DATA … SET c = UNHEX(@c)). */
  bytes: 'pg-hex' | 'hex';
  /** `offset`: `2024-01-02 03:04:05.123456+00`; `utc`: the same digits in UTC without a zone (DATETIME). */
  timestamptz: 'offset' | 'utc';
  /** `bc-suffix`: years before 1 as `0044-03-15 BC` (Postgres); `iso`: DuckDB's text as is. */
  dates: 'bc-suffix' | 'iso';
  /** `pg-literal`: {"a","b"}; `json`: a JSON array. */
  arrays: 'pg-literal' | 'json';
}

/** A chunk of rows already encoded in the destination's bulk format. */
export interface EncodedChunk {
  rows: number;
  bytes: Buffer;
  /**
   * Hands `bytes` back to the producer for reuse. Call it only once nothing holds the bytes
   * any more (the socket has taken them); a consumer that keeps them simply never calls it.
   */
  release?: () => void;
}

/**
 * Rows to load, encoded as the destination asked (`encoding`). `_rn` numbers rows within a
 * run so a destination can ask again for a range of them (to isolate rejected rows)
 * without the engine holding them in memory.
 */
export interface RowStream {
  /** Number of rows; their `_rn` values are 1..count with no gaps. */
  count: number;
  /** Every row, in no particular order. `withRn` puts the row number first on each line. */
  all(withRn: boolean): AsyncIterable<EncodedChunk>;
  /** Rows firstRn..lastRn in row-number order, so the n-th line sent is row firstRn + n - 1. */
  range(firstRn: number, lastRn: number, withRn: boolean): AsyncIterable<EncodedChunk>;
}

export interface StageResult {
  staged: number;
  rejected: RejectedRow[];
  /** True when rows went straight into an empty target in one transaction (no merge needed). */
  loadedDirectly: boolean;
}

/** One merge: the engine builds it once per run (preview asks `plan` with the same object). */
export interface MergePlan {
  mode: SyncMode;
  keys: string[];
  columns: string[];
  /** 'keys': delete target rows whose key is in the key table; 'absent': those in neither staging nor the key table. */
  deletes: 'none' | 'keys' | 'absent';
  /**
   * The mass-delete guard, enforced by the destination inside its merge transaction, where
   * the target's row count is exact (the engine's own check covers only what the snapshot
   * knows, before anything is staged). `undefined`: no limit (`--allow-mass-delete`).
   */
  maxDeleteRatio?: number;
  /** The delivering run, to record in the same transaction as the merge (see DeliveryIdentity). */
  delivery: DeliveryIdentity;
}

/** A delivery the destination's ledger holds: it committed. */
export interface DeliveryRecord {
  runId: number;
  snapshotVersion: number;
  committedAt: string;
  /** Row numbers the merge refused: of staged rows, and of the key table (refused deletes). Not delivered. */
  refused: { rows: number[]; deletes: number[] };
}

export interface MergeResult {
  inserted: number;
  updated: number;
  deleted: number;
  /** Staged rows the target already held with the same values. */
  unchanged: number;
  rejected: RejectedRow[];
  /** Deletes the target refused (a foreign key still pointing at the row); `rn` numbers rows of the key table. */
  rejectedDeletes?: RejectedRow[];
}

export interface PlannedChanges {
  wouldInsert: number;
  wouldUpdate: number;
  wouldDelete: number;
  targetRows: number;
}

export interface BulkDestination extends DestinationBase {
  readonly capabilities: DestinationCapabilities & { shape: 'bulk' };
  /** The bulk format `stage` and `stageKeys` receive. */
  readonly encoding: DelimitedTextEncoding;
  /** Loads the rows into staging, or straight into an empty target when `mayLoadDirectly`. */
  stage(columns: Column[], rows: RowStream, opts: { mayLoadDirectly: boolean; delivery?: DeliveryIdentity }): Promise<StageResult>;
  /** Loads keys for mirror's deletes: keys that left the model, or (full sync) rejected rows' keys to keep. */
  stageKeys(keyColumns: Column[], rows: RowStream): Promise<number>;
  /** Applies the staged rows in one transaction (when `capabilities.transactions`), isolating refused rows. */
  merge(plan: MergePlan): Promise<MergeResult>;
  /**
   * The delivery ledger, for exactly-once delivery across a crash. A destination with
   * transactions implements it: every transaction that writes a run's rows (the merge, or
   * the direct load into an empty table) also writes one ledger row naming the run
   * (`plan.delivery`, `opts.delivery`) and the row numbers it refused, in a table outflow
   * owns in the destination, and commits both or neither. `delivered` answers whether that
   * run's delivery committed. On start, a run whose snapshot was not saved after its
   * delivery committed is finished from the pending delta in the state folder instead of
   * being sent again. Absent: delivery is at-least-once (a crash there re-sends the delta).
   */
  delivered?(pipeline: string, runId: number): Promise<DeliveryRecord | undefined>;
  /** What merge(plan) would do, computed without changing the target. */
  plan(plan: MergePlan): Promise<PlannedChanges>;
}

// ---------------------------------------------------------------------------------------
// Records shape: bounded batches of typed rows, a result per row.
// ---------------------------------------------------------------------------------------

/**
 * One row of the delta. `values` follow `RecordBatch.columns` (absent for `removed`, which
 * carries only its key). `rn` numbers the row within its kind for this run: added/changed
 * rows by their delta row number, removed rows by their removed-key number — so a batch is
 * either upserts (added/changed) or removals, never both.
 */
export interface DeltaRecord {
  rn: number;
  op: 'added' | 'changed' | 'removed';
  /** Key values, in `RecordBatch.keys` order. */
  key: Value[];
  values?: Value[];
  /** DuckDB's 64-bit hash of the row's mapped values, as decimal text (idempotency keys, ETags); absent for `removed`. */
  hash?: string;
}

export interface RecordBatch {
  mode: SyncMode;
  columns: Column[];
  keys: string[];
  records: DeltaRecord[];
  delivery: DeliveryIdentity;
}

/**
 * What happened to a batch. The destination works through the records in order; the first
 * `delivered + rejected.length` of them were handled (delivered, or refused and listed in
 * `rejected`, whose `rn`s are theirs). Records after that were not attempted: the engine
 * sends them again after `retryAfterMs` (a rate limit) or its retry backoff.
 */
export interface WriteResult {
  delivered: number;
  rejected: RejectedRow[];
  retryAfterMs?: number;
}

export interface RecordDestination extends DestinationBase {
  readonly capabilities: DestinationCapabilities & { shape: 'records' };
  /** Delivers a batch (at most `capabilities.maxBatchRows` records). Throw TransientError to retry the run, TerminalError-like OutflowErrors to fail it. */
  write(batch: RecordBatch): Promise<WriteResult>;
  /**
   * Problems with the destination's own settings for these columns, found before anything is
   * sent (`validate`): a URL or key template naming a column the pipeline does not map.
   */
  checkColumns?(columns: Column[], keys: string[]): string[];
  /** What `write(batch)` would send, its first `limit` requests or commands, without sending anything (`preview`). */
  previewWrites?(batch: RecordBatch, limit: number): WritePreview[];
  /**
   * `replace`, once every batch of the run is written: deletes what the run did not write
   * (for a cache, the keys of its shape the model no longer has). Refuses with a
   * MassDeleteError, deleting nothing, beyond `maxDeleteRatio` of what it found (undefined:
   * no limit). Returns how many it deleted.
   */
  deleteUnwritten?(opts: { maxDeleteRatio?: number }): Promise<number>;
}

/** What a write would send, as `preview` shows it instead of sending it (no secrets). */
export interface WritePreview {
  op: DeltaRecord['op'];
  /** Rows the request or command carries. */
  rows: number;
  /** The request line or command, e.g. `POST https://api.example.com/v1/contacts`, `HSET customer:42 …`. */
  request: string;
  /** Named details worth seeing (header names, the idempotency key); never a secret's value. */
  details?: Record<string, string>;
  /** The body, truncated. */
  body?: string;
}

export type Destination = BulkDestination | RecordDestination;

export type { Value };

/** Rows in encoded bytes: bulk formats outflow writes hold one row per line. */
export function countLines(bytes: Buffer): number {
  let n = 0;
  for (let i = bytes.indexOf(10); i !== -1; i = bytes.indexOf(10, i + 1)) n++;
  return n;
}

/** Which shape the engine drives, read from the capabilities (TypeScript cannot narrow on a nested field). */
export function isBulkDestination(d: Destination): d is BulkDestination {
  return d.capabilities.shape === 'bulk';
}
