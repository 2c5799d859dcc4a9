import { isBulkDestination, type Destination, type MergePlan, type RejectedRow } from '../destinations/destination.js';
import type { SyncMode } from '../config/pipeline-schema.js';
import type { Column } from '../types/logical-type.js';
import type { Workspace } from '../diff/workspace.js';
import { guardMassDelete } from '../destinations/mass-delete.js';
import { deliverBulk } from './deliver-bulk.js';
import { deliverRecords } from './deliver-records.js';

export type Timed = <T>(stage: string, fn: () => Promise<T>) => Promise<T>;

/** What a diff left in the workspace (_outflow_delta, _outflow_removed) and how to send it. */
export interface DeltaDelivery {
  dest: Destination;
  ws: Workspace;
  mode: SyncMode;
  columns: Column[];
  keys: string[];
  keyColumns: Column[];
  isFull: boolean;
  /** Rows in _outflow_delta. */
  deltaCount: number;
  /** Keys that left the model (mirror deletes them). */
  removed: number;
  /** Rows the snapshot holds: the mass-delete guard's total for record destinations. */
  snapshotRows: number;
  mergePlan: MergePlan;
  timed: Timed;
  signal: AbortSignal;
  onRows?: (stage: 'stage' | 'write', rows: number, total: number) => void;
  /** Refused rows, by row number of _outflow_delta or (`removed`) of _outflow_removed: the caller records them. */
  onRejected: (rejected: RejectedRow[], of: 'delta' | 'removed') => Promise<void>;
}

export interface DeliveredCounts {
  sent: number;
  inserted: number;
  updated: number;
  deleted: number;
  /** Sent rows the target already held with the same values. */
  unchanged: number;
  /** Every sendable row went straight into an empty target (a full sync, no merge). */
  isWholeModelDelivered: boolean;
}

/**
 * Sends the workspace's delta to the destination in its shape: staged and merged (bulk),
 * or written batch by batch (records). The warehouse diff sends each partition this way.
 * (The local diff's run in run-pipeline.ts still does this inline, with the delivery
 * ledger's pending record and replace's deleteUnwritten; folding the two together is left
 * for after issue 15 and 14 have both landed.)
 */
export async function deliverDelta(d: DeltaDelivery): Promise<DeliveredCounts> {
  const { dest, deltaCount } = d;
  if (isBulkDestination(dest)) {
    const { merged } = await deliverBulk(
      dest,
      {
        ws: d.ws,
        columns: d.columns,
        keyColumns: d.keyColumns,
        deltaCount,
        isFull: d.isFull,
        plan: d.mergePlan,
        timed: d.timed,
        onStageRows: d.onRows && ((rows) => d.onRows!('stage', rows, deltaCount)),
      },
      (st) => d.onRejected(st.rejected, 'delta'),
    );
    if (!merged) return { sent: deltaCount, inserted: deltaCount, updated: 0, deleted: 0, unchanged: 0, isWholeModelDelivered: d.isFull };
    await d.onRejected(merged.rejected, 'delta');
    await d.onRejected(merged.rejectedDeletes ?? [], 'removed');
    return { sent: deltaCount, inserted: merged.inserted, updated: merged.updated, deleted: merged.deleted, unchanged: merged.unchanged, isWholeModelDelivered: false };
  }
  // Record destinations cannot count their target: the guard reads the snapshot, before anything is sent.
  if (d.mode === 'mirror' && !d.isFull) {
    guardMassDelete({ label: dest.label, mode: 'mirror', doomed: d.removed, total: d.snapshotRows, maxDeleteRatio: d.mergePlan.maxDeleteRatio, of: 'delivered rows' });
  }
  const written = await d.timed('write', () =>
    deliverRecords(dest, {
      ws: d.ws,
      mode: d.mode,
      columns: d.columns,
      keys: d.keys,
      delivery: d.mergePlan.delivery,
      signal: d.signal,
      onRows: d.onRows && ((rows) => d.onRows!('write', rows, deltaCount + d.removed)),
    }),
  );
  await d.onRejected(written.rejected, 'delta');
  await d.onRejected(written.rejectedRemoved, 'removed');
  return { sent: deltaCount, inserted: written.added, updated: written.changed, deleted: written.removed, unchanged: 0, isWholeModelDelivered: false };
}
