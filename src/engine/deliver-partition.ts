import type { SyncMode } from '../config/pipeline-schema.js';
import { isBulkDestination, type DeliveryIdentity, type Destination, type MergePlan, type RejectedRow } from '../destinations/destination.js';
import type { WarehouseDiff, WarehouseDiffSpec } from '../sources/warehouse-diff.js';
import type { Column } from '../types/logical-type.js';
import type { Workspace } from '../diff/workspace.js';
import { advancePartition, advanceRules, loadPartition, refusedRows } from '../diff/warehouse-diff.js';
import { invalidRows } from '../diff/compute-diff.js';
import { unstorableReason, unstorableValueSql } from '../duckdb/unstorable-values-sql.js';
import { pauseForTests } from '../test-hooks.js';
import { deliverDelta, type DeliveredCounts, type Timed } from './deliver-delta.js';
import { MAX_REJECTED_RECORDED, recordRejected, type RejectedSink } from './rejected-rows.js';

/** One partition of a warehouse diff, to deliver: in the run's own process or in an `outflow worker`. */
export interface PartitionWork {
  wd: WarehouseDiff;
  spec: WarehouseDiffSpec;
  dest: Destination;
  ws: Workspace;
  mode: SyncMode;
  columns: Column[];
  keys: string[];
  part: number;
  /** ' 3/8' when the run has several partitions, for stage names. */
  label: string;
  isFull: boolean;
  /** The merge plan; its `delivery` names this partition of this diff (see partitionDelivery). */
  mergePlan: MergePlan;
  /** Rows the snapshot held before this diff (the mass-delete guard's total for record destinations). */
  snapshotRows: number;
  batchSize: number;
  timed: Timed;
  signal: AbortSignal;
  onProgress?: (stage: string, rows: number, total: number) => void;
  /** Refused rows go here (and into the workspace's rejected tables, which the advance reads). */
  sink: RejectedSink;
}

export interface PartitionDone {
  /** Rows refused before sending (values the destination cannot store). */
  invalid: number;
  out?: DeliveredCounts;
  /**
   * Rows an earlier attempt had delivered (the destination's ledger holds this partition of
   * this diff): only the snapshot was advanced now. Undefined when this attempt sent them.
   */
  reconciled?: number;
}

/**
 * The delivery identity of one partition of one diff. The ledger keeps the last delivery
 * per name, so each partition has its own (`<pipeline>#<part>`), and `runId` carries the
 * diff's id rather than the run's: a run retried after a transient fault computes a new
 * diff, whose partition of the same number holds other rows.
 */
export function partitionDelivery(pipeline: string, part: number, diffId: number, fingerprint: string): DeliveryIdentity {
  return { pipeline: `${pipeline}#${part}`, runId: diffId, snapshotVersion: 0, fingerprint };
}

/**
 * Loads the partition's pending rows from the warehouse, delivers them, then advances the
 * warehouse snapshot for exactly the rows the destination took. When the destination's
 * delivery ledger already holds this partition of this diff (an attempt died after its
 * COMMIT, before the advance: a killed worker, a lost connection), nothing is sent again:
 * the rows it refused are read from the ledger and the advance is made.
 */
export async function deliverPartition(w: PartitionWork): Promise<PartitionDone> {
  const { dest, ws, timed, mode } = w;
  const rules = advanceRules(mode);
  const keyColumns = w.keys.map((k) => w.columns.find((col) => col.name === k)!);
  const unstorable = dest.capabilities.unstorable;
  const loaded = await timed(`extract${w.label}`, () =>
    loadPartition(w.wd, w.spec, ws.connection, w.part, {
      sentKinds: rules.sentKinds,
      isMirror: mode === 'mirror',
      batchSize: w.batchSize,
      badValueSql: unstorableValueSql(w.columns, unstorable),
      signal: w.signal,
    }),
  );
  for (const bad of await invalidRows(ws.connection, keyColumns, MAX_REJECTED_RECORDED)) {
    if (w.sink.rejected.length >= MAX_REJECTED_RECORDED) break;
    w.sink.rejected.push({ key: bad.key, column: bad.column, reason: unstorableReason(bad.column, unstorable) });
  }
  w.sink.counts.rejected += loaded.invalid;
  const deltaCount = loaded.added + loaded.changed - loaded.invalid;
  const onRejected = (rejected: RejectedRow[], of: 'delta' | 'removed') => recordRejected(ws, keyColumns, rejected, w.sink, of);
  const delivery = w.mergePlan.delivery;
  const earlier = isBulkDestination(dest) && dest.delivered ? await dest.delivered(delivery.pipeline, delivery.runId) : undefined;
  let out: DeliveredCounts | undefined;
  if (earlier) {
    const why = 'refused by the destination in an earlier attempt of this partition';
    await onRejected(earlier.refused.rows.map((rn) => ({ rn, reason: why })), 'delta');
    await onRejected(earlier.refused.deletes.map((rn) => ({ rn, reason: why })), 'removed');
  } else if (deltaCount > 0 || (w.isFull && (mode === 'mirror' || mode === 'replace')) || (mode === 'mirror' && loaded.removed > 0)) {
    out = await deliverDelta({
      dest,
      ws,
      mode,
      columns: w.columns,
      keys: w.keys,
      keyColumns,
      isFull: w.isFull,
      deltaCount,
      removed: mode === 'mirror' ? loaded.removed : 0,
      snapshotRows: w.snapshotRows,
      mergePlan: w.mergePlan,
      timed,
      signal: w.signal,
      onRows: w.onProgress,
      onRejected,
    });
  }
  await pauseForTests('snapshot');
  await timed(`snapshot${w.label}`, async () => advancePartition(w.wd, w.spec, { part: w.part, ...rules, ...(await refusedRows(ws.connection)) }));
  return { invalid: loaded.invalid, out, reconciled: earlier ? deltaCount - earlier.refused.rows.length : undefined };
}
