import type { RejectedRowRecord, RowCounts, RunResult, RunStatus, StageTiming } from './run-result.js';
import type { ChangeEntry, ChangeOperation } from '../diff/change-keys.js';
import { redact, redactValue } from '../config/redact.js';

/**
 * Run history, run locks, rejected rows and change logs. Two places keep them: SQLite in the
 * state folder (the default; `HistoryStore`) and a Postgres database several processes and
 * machines share (`state.url`, `--state-url`, OUTFLOW_STATE_URL; `PostgresHistory`).
 * Every method is async so callers need not know which one they hold.
 */
export interface History {
  /** Takes the pipeline's run lock; a lock whose holder died is taken over and its run marked failed. Throws LockedError when held. */
  acquireLock(pipeline: string): Promise<void>;
  releaseLock(pipeline: string): Promise<void>;
  isLocked(pipeline: string): Promise<boolean>;
  /** Who holds the pipeline's lock (a live process), for "running elsewhere"; undefined when free. */
  lockHolder(pipeline: string): Promise<LockHolder | undefined>;
  /** Records a new run: `id` is unique in the store; `number` counts this pipeline's runs (1, 2, 3…). */
  startRun(pipeline: string, mode: string, trigger: string, status?: RunStatus): Promise<StartedRun>;
  /** Progress while a run is going (counts and stages so far), for live status. */
  updateRun(id: number, counts: RowCounts, stages: StageTiming[]): Promise<void>;
  finishRun(result: RunResult): Promise<void>;
  listRuns(pipeline: string | undefined, limit?: number, offset?: number): Promise<RunRecord[]>;
  countRuns(pipeline?: string): Promise<number>;
  getRun(id: number): Promise<RunRecord | undefined>;
  /** A pipeline's run by its number (what `outflow runs` shows and `--run N` takes). */
  getRunByNumber(pipeline: string, number: number): Promise<RunRecord | undefined>;
  rejectedRows(runId: number, limit?: number, offset?: number): Promise<RejectedRowRecord[]>;
  countRejected(runId: number): Promise<number>;
  /** A run's rejected rows counted by column and reason, most frequent first. */
  rejectedGroups(runId: number, limit?: number): Promise<RejectedGroup[]>;
  /** Rejected rows whose key, column or reason contains `text` (case-insensitive), paged. */
  searchRejected(runId: number, text: string, limit: number, offset: number): Promise<{ rows: RejectedRowRecord[]; total: number }>;
  /** Every rejected row of a run, a page at a time (CSV export without holding them all). */
  eachRejected(runId: number): AsyncIterable<RejectedRowRecord>;
  /** Appends one page of a run's change log (key JSON, operation, and for a rejection its reason). */
  recordChanges(runId: number, entries: ChangeEntry[]): Promise<void>;
  /** Forgets a run's change log (an attempt that is being retried records it again). */
  clearChanges(runId: number): Promise<void>;
  /** One page of a run's change log, in the order it was recorded. */
  changes(runId: number, limit?: number, offset?: number): Promise<ChangeRecord[]>;
  /** How many change-log entries a run has, per operation. */
  countChanges(runId: number): Promise<Partial<Record<ChangeOperation, number>>>;
  /** Drops the change logs of a pipeline's runs beyond the newest `keepRuns`, or older than `keepDays`. */
  pruneChanges(pipeline: string, retention: { keepRuns?: number; keepDays?: number }): Promise<void>;
  /** Totals per run status for one pipeline (for /metrics): runs, summed duration and summed row counts. */
  runTotals(pipeline: string): Promise<RunTotals[]>;
  /** Marks runs left 'running' by this process (shutdown) with the given status. */
  closeOrphans(status: RunStatus, error: string): Promise<void>;
  close(): Promise<void>;
}

/** Where a pipeline's history lives: Postgres when `stateUrl` is set, else SQLite in `stateDir`. */
export interface HistoryLocation {
  stateDir: string;
  stateUrl?: string;
}

export async function openHistory(at: HistoryLocation): Promise<History> {
  if (at.stateUrl) {
    const { PostgresHistory } = await import('./postgres-history.js');
    return PostgresHistory.open(at.stateUrl);
  }
  const { HistoryStore } = await import('./history-store.js');
  return HistoryStore.open(at.stateDir);
}

export interface LockHolder {
  runId: number | null;
  since: string;
  pid: number;
  host: string;
}

export interface StartedRun {
  id: number;
  number: number;
  startedAt: string;
}

export interface RejectedGroup {
  column: string | null;
  reason: string;
  count: number;
}

export interface ChangeRecord {
  op: ChangeOperation;
  key: Record<string, unknown>;
  column?: string;
  reason?: string;
}

export interface RunTotals {
  status: RunStatus;
  runs: number;
  durationMs: number;
  counts: RowCounts;
}

export interface RunRecord {
  id: number;
  /** The run's number among its pipeline's runs. */
  number: number;
  pipeline: string;
  status: RunStatus;
  trigger: string;
  mode: string;
  syncKind?: string;
  fullReason?: string;
  startedAt: string;
  finishedAt?: string;
  durationMs?: number;
  counts: Partial<RowCounts>;
  stages: StageTiming[];
  error?: string;
}

/** A `runs` row as a driver returns it: SQLite gives text and numbers, Postgres dates, bigint as text, and parsed JSON. */
export interface RunRow {
  id: number | string;
  number: number;
  pipeline: string;
  status: RunStatus;
  trigger: string;
  mode: string;
  sync_kind: string | null;
  full_reason: string | null;
  started_at: string | Date;
  finished_at: string | Date | null;
  duration_ms: number | string | null;
  counts: string | Partial<RowCounts>;
  stages: string | StageTiming[];
  error: string | null;
}

export function runRecord(r: RunRow): RunRecord {
  const time = (t: string | Date) => (typeof t === 'string' ? t : t.toISOString());
  return {
    id: Number(r.id),
    number: r.number,
    pipeline: r.pipeline,
    status: r.status,
    trigger: r.trigger,
    mode: r.mode,
    syncKind: r.sync_kind ?? undefined,
    fullReason: r.full_reason ?? undefined,
    startedAt: time(r.started_at),
    finishedAt: r.finished_at === null ? undefined : time(r.finished_at),
    durationMs: r.duration_ms === null ? undefined : Number(r.duration_ms),
    counts: typeof r.counts === 'string' ? JSON.parse(r.counts) : r.counts,
    stages: typeof r.stages === 'string' ? JSON.parse(r.stages) : r.stages,
    error: r.error ?? undefined,
  };
}

/** The row counts /metrics sums over runs. */
export const TOTALLED_COUNTS = ['read', 'added', 'changed', 'removed', 'sent', 'inserted', 'updated', 'deleted', 'unchanged', 'rejected', 'retried', 'stillRejected'] as const;

/** The refusal a second run gets while the lock is held, the same from either store. */
export function lockedMessage(pipeline: string, holder: LockHolder): string {
  return `pipeline ${pipeline} is already running (pid ${holder.pid} on ${holder.host}, since ${holder.since}${holder.runId ? `, run ${holder.runId}` : ''}); wait for it to finish`;
}

/** The error a run gets when the next run finds its process gone and takes its lock over. */
export function diedMessage(pid: number): string {
  return `the process running it died (pid ${Math.trunc(pid)})`;
}

/** What finishRun writes to a run's row, column by column (the error redacted). */
export function finishedRunColumns(result: RunResult): [column: string, value: unknown][] {
  return [
    ['status', result.status],
    ['sync_kind', result.syncKind],
    ['full_reason', result.fullReason ?? null],
    ['finished_at', result.finishedAt ?? new Date().toISOString()],
    ['duration_ms', result.durationMs],
    ['counts', JSON.stringify(result.counts)],
    ['stages', JSON.stringify(result.stages)],
    ['error', result.error ? redact(result.error) : null],
  ];
}

/** A rejected row as stored: key as redacted JSON text, column, redacted reason. */
export function storedRejected(r: RejectedRowRecord): { key: string; column: string | null; reason: string } {
  return { key: JSON.stringify(redactValue(jsonSafe(r.key))), column: r.column ?? null, reason: redact(r.reason) };
}

/** A change-log entry as stored: key and reason redacted. */
export function storedChange(e: ChangeEntry): { op: ChangeOperation; key: string; column: string | null; reason: string | null } {
  return { op: e.op, key: redact(e.key), column: e.column ?? null, reason: e.reason ? redact(e.reason) : null };
}

export function rejectedRecord(r: { key: string; column_name: string | null; reason: string }): RejectedRowRecord {
  return { key: JSON.parse(r.key), column: r.column_name ?? undefined, reason: r.reason };
}

export function changeRecord(r: { op: ChangeOperation; key: string; column_name: string | null; reason: string | null }): ChangeRecord {
  return { op: r.op, key: JSON.parse(r.key), ...(r.column_name ? { column: r.column_name } : {}), ...(r.reason ? { reason: r.reason } : {}) };
}

/** JSON cannot hold bigint or bytes; keys are stored in a readable, lossless text form. */
export function jsonSafe(v: unknown): unknown {
  if (typeof v === 'bigint') return v.toString();
  if (v instanceof Uint8Array) return `\\x${Buffer.from(v).toString('hex')}`;
  if (Array.isArray(v)) return v.map(jsonSafe);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, jsonSafe(x)]));
  return v;
}
