import { listValue } from '@duckdb/node-api';
import type { RejectedRow } from '../destinations/destination.js';
import type { Column } from '../types/logical-type.js';
import type { Workspace } from '../diff/workspace.js';
import { keysByRn } from '../diff/compute-diff.js';
import { oneLineReason, type RejectedRowRecord, type RowCounts } from '../state/run-result.js';

/** The most rejected rows kept per run in history; the count is always exact. */
export const MAX_REJECTED_RECORDED = 10_000;

/** Where refused rows are reported: a run's result, or a worker's partition outcome. */
export interface RejectedSink {
  rejected: RejectedRowRecord[];
  counts: Pick<RowCounts, 'rejected'>;
}

/**
 * Rejected rows are remembered by row number: of the delta, or (`removed`) of the removed
 * keys whose delete was refused. The workspace tables keep them from the snapshot (the next
 * run sends them again); the sink gets their keys and reasons, up to MAX_REJECTED_RECORDED.
 */
export async function recordRejected(
  ws: Workspace,
  keyColumns: Column[],
  rejected: RejectedRow[],
  sink: RejectedSink,
  of: 'delta' | 'removed' = 'delta',
): Promise<void> {
  if (rejected.length === 0) return;
  const rns = rejected.map((r) => r.rn);
  await ws.connection.run(`INSERT INTO ${of === 'delta' ? '_outflow_rejected' : '_outflow_rejected_removed'} SELECT unnest($1::BIGINT[])`, [
    listValue(rns.map((n) => BigInt(n))),
  ]);
  const keys = await keysByRn(ws.connection, keyColumns, rns.slice(0, MAX_REJECTED_RECORDED), of === 'delta' ? '_outflow_delta' : '_outflow_removed');
  for (const r of rejected) {
    if (sink.rejected.length >= MAX_REJECTED_RECORDED) break;
    sink.rejected.push({ key: r.key ?? keys.get(r.rn) ?? {}, column: r.column, reason: oneLineReason(r.reason) });
  }
  sink.counts.rejected += rejected.length;
}
