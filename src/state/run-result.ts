import type { Value } from '../types/logical-type.js';

export type RunStatus = 'running' | 'success' | 'partial' | 'failed' | 'skipped' | 'cancelled';

export interface RowCounts {
  /** Rows the model returned (after the cursor filter in incremental mode). */
  read: number;
  /** Diff against the snapshot of what was last delivered. */
  added: number;
  changed: number;
  removed: number;
  /** Changed rows the mode does not send (insert and insert_new never update); part of `changed`. */
  notSent: number;
  /** Rows that left the model and stay in the destination (every mode but mirror, which deletes them). */
  leftModel: number;
  /** Rows sent to the destination (staged or loaded). */
  sent: number;
  /** What the destination did. */
  inserted: number;
  updated: number;
  deleted: number;
  unchanged: number;
  rejected: number;
  /** Of added + changed: rows the last run refused, sent again (not counted as added or changed). */
  retried: number;
  /** Of rejected: rows the last run refused too. */
  stillRejected: number;
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

/** The longest rejected-row reason kept, in characters (a database error can quote a whole row). */
export const MAX_REASON_CHARS = 300;

/**
 * A rejected row's reason on one line and of bounded length: control characters (tabs and
 * newlines from the row values a database quotes) are escaped, so `runs --rejected` prints
 * one line per row, and a long reason is cut with a note of how much was left out.
 */
export function oneLineReason(reason: string): string {
  const escaped = reason.replace(/[\u0000-\u001f\u007f]/g, (ch) => CONTROL_ESCAPES[ch] ?? `\\x${ch.charCodeAt(0).toString(16).padStart(2, '0')}`);
  if (escaped.length <= MAX_REASON_CHARS) return escaped;
  return `${escaped.slice(0, MAX_REASON_CHARS)}… (${escaped.length - MAX_REASON_CHARS} more characters)`;
}

const CONTROL_ESCAPES: Record<string, string> = { '\t': '\\t', '\n': '\\n', '\r': '\\r' };

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
  return { read: 0, added: 0, changed: 0, removed: 0, notSent: 0, leftModel: 0, sent: 0, inserted: 0, updated: 0, deleted: 0, unchanged: 0, rejected: 0, retried: 0, stillRejected: 0 };
}
