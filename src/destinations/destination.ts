import type { Column, LogicalType, Value } from '../types/logical-type.js';
import type { SyncMode } from '../config/pipeline-schema.js';
import type { Batch } from '../types/logical-type.js';

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
 * Rows to load, rendered by the engine's workspace in the destination's bulk format.
 * `_rn` numbers rows within a run so a destination can ask again for a range of them
 * (to isolate rejected rows) without the engine holding them in memory.
 */
export interface RowStream {
  /** Number of rows; their `_rn` values are 1..count with no gaps. */
  count: number;
  /** Every row, in no particular order. `withRn` puts the row number first on each line. */
  all(withRn: boolean): AsyncIterable<EncodedChunk>;
  /** Rows firstRn..lastRn in row-number order, so the n-th line sent is row firstRn + n - 1. */
  range(firstRn: number, lastRn: number, withRn: boolean): AsyncIterable<EncodedChunk>;
}

export interface RejectedRow {
  rn: number;
  column?: string;
  reason: string;
}

export interface StageResult {
  staged: number;
  rejected: RejectedRow[];
  /** True when rows went straight into an empty target in one transaction (no merge needed). */
  loadedDirectly: boolean;
}

export interface MergePlan {
  mode: SyncMode;
  keys: string[];
  columns: string[];
  /** 'keys': delete target rows whose key is in the key table; 'absent': those in neither staging nor the key table. */
  deletes: 'none' | 'keys' | 'absent';
  maxDeleteRatio: number;
  allowMassDelete: boolean;
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

export interface DestinationCapabilities {
  modes: readonly SyncMode[];
  transactions: boolean;
  /** Can `verify` read the table back. */
  readBack: boolean;
}

/**
 * A destination keeps one table in step with a model. The engine stages rows, then asks
 * for one merge per run; SQL dialects stay inside the connector's folder.
 */
export interface Destination {
  readonly kind: string;
  readonly capabilities: DestinationCapabilities;
  /** Human-readable target name with no secrets, e.g. `postgres 127.0.0.1:5432/test public.t`. */
  readonly label: string;
  describe(): Promise<TargetTable | undefined>;
  /** Why a model column of type `from` cannot be written into `to`, or undefined when it can. */
  incompatibility(from: LogicalType, to: TargetColumn): string | undefined;
  createTable(columns: Column[], primaryKey: string[]): Promise<void>;
  /** DuckDB SQL that renders one row of `columns` as one unit of the bulk format (a COPY text line). */
  renderRowSql(columns: Column[], rnColumn?: string): string;
  /** Loads the rows into staging, or straight into an empty target when `mayLoadDirectly`. */
  stage(columns: Column[], rows: RowStream, opts: { mayLoadDirectly: boolean }): Promise<StageResult>;
  /** Loads keys for mirror's deletes: keys that left the model, or (full sync) rejected rows' keys to keep. */
  stageKeys(keyColumns: Column[], rows: RowStream): Promise<number>;
  merge(plan: MergePlan): Promise<MergeResult>;
  /** What merge(plan) would do, computed without changing the target. */
  plan(plan: MergePlan): Promise<PlannedChanges>;
  /** Drops outflow's staging tables. */
  cleanup(): Promise<void>;
  countRows(): Promise<number>;
  readBack(columns: Column[], batchSize: number): AsyncIterable<Batch>;
  execute(sql: string): Promise<void>;
  close(): Promise<void>;
}

export type { Value };

/** Rows in encoded bytes: bulk formats outflow writes hold one row per line. */
export function countLines(bytes: Buffer): number {
  let n = 0;
  for (let i = bytes.indexOf(10); i !== -1; i = bytes.indexOf(10, i + 1)) n++;
  return n;
}
