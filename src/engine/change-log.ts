import type { Pipeline } from '../config/load-pipeline.js';
import type { Column } from '../types/logical-type.js';
import { jsonSafe, type History } from '../state/history.js';
import { changeKeys, type ChangeEntry } from '../diff/change-keys.js';
import type { Workspace } from '../diff/workspace.js';
import type { RunResult } from '../state/run-result.js';

/** History keeps at most this many rejected rows per run (the engine's bound), so this many can be retried. */
const MAX_PREVIOUSLY_REJECTED = 10_000;

export interface ChangeLogInput {
  keyColumns: Column[];
  isFull: boolean;
  /** Rows were staged and merged (or loaded): without it only rejected rows are logged. */
  isSent: boolean;
  loadedDirectly: boolean;
}

/**
 * Writes the run's row-level change log to history, page by page as DuckDB produces the
 * keys, up to change_log.max_rows_per_run entries; then drops logs past the retention.
 */
export async function writeChangeLog(p: Pipeline, ws: Workspace, history: History, result: RunResult, input: ChangeLogInput): Promise<void> {
  const { max_rows_per_run: limit, keep_runs, keep_days } = p.spec.change_log;
  await history.clearChanges(result.runId);
  const rejected: ChangeEntry[] = result.rejected
    .slice(0, limit)
    .map((r) => ({ op: 'rejected', key: JSON.stringify(jsonSafe(r.key)), column: r.column, reason: r.reason }));
  await history.recordChanges(result.runId, rejected);
  if (input.isSent && rejected.length < limit) {
    const [previous] = await history.listRuns(p.name, 1, 1);
    const previouslyRejected = previous ? (await history.rejectedRows(previous.id, MAX_PREVIOUSLY_REJECTED)).map((r) => JSON.stringify(r.key)) : [];
    const pages = changeKeys(ws.connection, {
      mode: p.spec.mode,
      keyColumns: input.keyColumns,
      isFull: input.isFull,
      loadedDirectly: input.loadedDirectly,
      limit: limit - rejected.length,
      previouslyRejected,
    });
    for await (const page of pages) await history.recordChanges(result.runId, page);
  }
  await history.pruneChanges(p.name, { keepRuns: keep_runs, keepDays: keep_days });
}
