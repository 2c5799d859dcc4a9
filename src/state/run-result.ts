import type { Value } from '../types/logical-type.js';

export type RunStatus = 'running' | 'success' | 'partial' | 'failed' | 'skipped' | 'cancelled';

export interface RowCounts {
  /** Rows the model returned (after the cursor filter in incremental mode). */
  read: number;
  /** Diff against the snapshot of what was last delivered. */
  added: number;
  changed: number;
  removed: number;
  /** Rows sent to the destination (staged or loaded). */
  sent: number;
  /** What the destination did. */
  inserted: number;
  updated: number;
  deleted: number;
  unchanged: number;
  rejected: number;
}

export interface StageTiming {
  stage: string;
  ms: number;
}

export interface RejectedRowRecord {
  key: Record<string, Value>;
  column?: string;
  reason: string;
}

export interface RunResult {
  /** Unique in the state folder (history's key). */
  runId: number;
  /** The run's number among this pipeline's runs: 1, 2, 3… */
  runNumber: number;
  pipeline: string;
  status: RunStatus;
  startedAt: string;
  finishedAt?: string;
  durationMs: number;
  /** full: every model row was considered new (first run, --full, changed mapping). */
  syncKind: 'full' | 'incremental';
  fullReason?: string;
  mode: string;
  counts: RowCounts;
  stages: StageTiming[];
  rejected: RejectedRowRecord[];
  error?: string;
  /** The error object behind `error` (not stored), for --verbose. */
  cause?: unknown;
  trigger: string;
}

export function emptyCounts(): RowCounts {
  return { read: 0, added: 0, changed: 0, removed: 0, sent: 0, inserted: 0, updated: 0, deleted: 0, unchanged: 0, rejected: 0 };
}
