import type { BulkDestination, MergePlan, MergeResult, StageResult } from '../destinations/destination.js';
import type { Column } from '../types/logical-type.js';
import type { Workspace } from '../diff/workspace.js';
import { ensureDeltaTable, FULL_DELTA_VIEW } from '../diff/compute-diff.js';
import { tableRowStream } from '../diff/delta-row-stream.js';
import { pauseForTests } from '../test-hooks.js';

export interface BulkDelivery {
  ws: Workspace;
  columns: Column[];
  keyColumns: Column[];
  deltaCount: number;
  isFull: boolean;
  plan: MergePlan;
  /** Wraps a stage so its time is recorded. */
  timed: <T>(stage: string, fn: () => Promise<T>) => Promise<T>;
  onStageRows?: (done: number) => void;
  /**
   * Called before each step that may commit the delivery: before a direct load
   * (`wholeModel`: every sendable model row is delivered), and before the merge. The engine
   * keeps the pending delta there for the delivery ledger (see Destination.delivered).
   */
  beforeDelivery?: (wholeModel: boolean) => Promise<void>;
}

export interface BulkOutcome {
  staged: StageResult;
  merged?: MergeResult;
}

/**
 * The bulk shape: the delta rendered in the destination's encoding and staged, mirror's
 * keys staged, then one merge. A full sync may load straight into an empty target (no merge).
 */
export async function deliverBulk(dest: BulkDestination, d: BulkDelivery, onRejected: (staged: StageResult) => Promise<void>): Promise<BulkOutcome> {
  const c = d.ws.connection;
  await pauseForTests('before-stage');
  const rows = tableRowStream(c, '_outflow_delta', d.deltaCount, d.columns, dest.encoding, {
    unnumbered: d.isFull ? FULL_DELTA_VIEW : undefined,
    ensureTable: () => ensureDeltaTable(c),
  });
  const mayLoadDirectly = d.isFull && d.plan.mode !== 'update';
  if (mayLoadDirectly) await d.beforeDelivery?.(true);
  const staged = await d.timed('stage', () =>
    dest.stage(d.columns, withProgress(rows, d.onStageRows), { mayLoadDirectly, delivery: d.plan.delivery }),
  );
  if (staged.loadedDirectly) return { staged };
  await ensureDeltaTable(c);
  await onRejected(staged);
  if (d.plan.mode === 'mirror') {
    await d.timed('stage deletes', () => stageMirrorKeys(dest, d.ws, d.keyColumns, d.isFull));
  }
  await d.beforeDelivery?.(false);
  await pauseForTests('merge');
  const merged = await d.timed('merge', () => dest.merge(d.plan));
  return { staged, merged };
}

/** Mirror's key table: keys that left the model, or on a full sync the keys of rejected rows (kept in the target). */
export async function stageMirrorKeys(dest: BulkDestination, ws: Workspace, keyColumns: Column[], isFull: boolean): Promise<number> {
  const table = isFull ? `(SELECT * FROM _outflow_delta WHERE _rn IN (SELECT _rn FROM _outflow_rejected))` : '_outflow_removed';
  return dest.stageKeys(keyColumns, tableRowStream(ws.connection, table, 0, keyColumns, dest.encoding));
}

function withProgress<T extends { all: (w: boolean) => AsyncIterable<{ rows: number; bytes: Buffer }> }>(rows: T, onRows?: (done: number) => void): T {
  if (!onRows) return rows;
  const wrap = (it: AsyncIterable<{ rows: number; bytes: Buffer }>) =>
    (async function* () {
      let done = 0;
      for await (const c of it) {
        yield c;
        done += c.rows;
        onRows(done);
      }
    })();
  return { ...rows, all: (w: boolean) => wrap(rows.all(w)) };
}
