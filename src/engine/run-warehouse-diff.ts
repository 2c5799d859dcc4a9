import type { Pipeline } from '../config/load-pipeline.js';
import type { DeliveryIdentity, Destination, MergePlan, RejectedRow } from '../destinations/destination.js';
import type { Source } from '../sources/source.js';
import type { WarehouseDiffSpec } from '../sources/warehouse-diff.js';
import type { Column } from '../types/logical-type.js';
import type { RunResult } from '../state/run-result.js';
import type { ColumnPlan } from './column-plan.js';
import { ConfigError, OutflowError, TransientError } from '../errors.js';
import { backoffDelay, sleep } from './retry.js';
import { redact } from '../config/redact.js';
import { openScratchWorkspace, type Workspace } from '../diff/workspace.js';
import {
  advancePartition,
  advanceRules,
  computeWarehouseDiff,
  finishWarehouseDiff,
  loadPartition,
  openWarehouseState,
  refusedRows,
} from '../diff/warehouse-diff.js';
import { invalidRows } from '../diff/compute-diff.js';
import { unstorableReason, unstorableValueSql } from '../duckdb/unstorable-values-sql.js';
import { guardMassDelete } from '../destinations/mass-delete.js';
import { pauseForTests } from '../test-hooks.js';
import { deliverDelta, type DeliveredCounts, type Timed } from './deliver-delta.js';

/** The default schema (BigQuery: dataset) outflow owns in the warehouse. */
export const DEFAULT_STATE_SCHEMA = 'outflow_state';

export interface WarehouseRun {
  p: Pipeline;
  source: Source;
  dest: Destination;
  plan: ColumnPlan;
  fingerprint: string;
  result: RunResult;
  opts: { full?: boolean; allowMassDelete?: boolean; signal: AbortSignal; onProgress?: (e: { stage: string; rows?: number; total?: number }) => void };
  timed: Timed;
  /** Hands the run's DuckDB workspace to the attempt, which closes it. */
  adoptWorkspace: (ws: Workspace) => void;
  mergePlan: (isFull: boolean, delivery: DeliveryIdentity) => MergePlan;
  /** Closes the destination and opens it again (after a transient fault); the attempt closes the new one. */
  reconnect: () => Promise<Destination>;
  recordRejected: (ws: Workspace, keyColumns: Column[], rejected: RejectedRow[], of: 'delta' | 'removed') => Promise<void>;
  /** Most rejected rows kept in the run result. */
  maxRejectedRecorded: number;
}

/**
 * A run with `diff: warehouse` (see diff/warehouse-diff.ts): the diff runs in the source
 * warehouse, then each partition of the changed rows is streamed into the workspace,
 * delivered like the local diff's delta, and recorded in the warehouse snapshot on its own.
 *
 * A partition that fails with a transient fault is retried alone (retry.attempts, with
 * backoff, on a new destination session): the partitions before it stay delivered and
 * recorded. One that gives up does not stop the others; the run then fails, and its rows
 * stay pending for the next run.
 */
export async function runWithWarehouseDiff(r: WarehouseRun): Promise<void> {
  const { p, plan, result, timed } = r;
  let dest = r.dest;
  const wd = r.source.warehouseDiff;
  if (!wd) {
    throw new ConfigError(`${p.file.split('/').pop()}: diff: warehouse: source ${r.source.kind} cannot compute the diff in its own warehouse; use diff: local`);
  }
  const mode = p.spec.mode;
  const spec: WarehouseDiffSpec = {
    model: p.spec.model,
    stateSchema: p.spec.state_schema ?? DEFAULT_STATE_SCHEMA,
    stateName: stateNameFor(p.name),
    modelNames: plan.modelNames,
    columns: plan.columns,
    keys: plan.keys,
    partitions: p.spec.partitions ?? 1,
  };
  const stored = await timed('state', () => openWarehouseState(wd, spec));
  let fullReason: string | undefined;
  if (r.opts.full) fullReason = '--full was given';
  else if (mode === 'replace') fullReason = 'replace sends the whole model every run';
  else if (!stored.fingerprint) fullReason = `first run: no snapshot yet in ${wd.sql.stateLabel(spec)}`;
  else if (stored.fingerprint !== r.fingerprint) fullReason = 'the mapping, key or destination changed since the last run';
  const isFull = fullReason !== undefined;
  result.syncKind = isFull ? 'full' : 'incremental';
  result.fullReason = fullReason;
  // A full mirror deletes what is absent from everything it sends, and replace swaps the
  // whole table: neither can be split.
  if (isFull && (mode === 'mirror' || mode === 'replace')) spec.partitions = 1;
  const diff = await timed('diff', () => computeWarehouseDiff(wd, spec, { isFull, hadFingerprint: stored.fingerprint !== undefined }));
  Object.assign(result.counts, { read: diff.read, added: diff.added, changed: diff.changed, removed: diff.removed });
  const delivery: DeliveryIdentity = { pipeline: p.name, runId: result.runId, snapshotVersion: 0, fingerprint: r.fingerprint };
  const mergePlan = r.mergePlan(isFull, delivery);
  // Each partition's merge sees only its own deletes: the guard applies to the whole run here.
  if (mode === 'mirror' && !isFull) {
    guardMassDelete({ label: dest.label, mode, doomed: diff.removed, total: diff.snapshotRows, maxDeleteRatio: mergePlan.maxDeleteRatio, of: 'delivered rows' });
  }
  // An attempt after a failed one starts its report over from this diff (rows refused
  // before are pending again and are sent again); deliveries already made stay counted.
  result.rejected.length = 0;
  result.counts.rejected = 0;
  const ws = await openScratchWorkspace();
  r.adoptWorkspace(ws);
  const rules = advanceRules(mode);
  const keyColumns = plan.keys.map((k) => plan.columns.find((col) => col.name === k)!);
  const unstorable = dest.capabilities.unstorable;
  let sent = 0;
  let unchangedInMerge = 0;
  let failure: unknown;
  // An empty model still has a full mirror or replace to carry out (emptying the target).
  const mustMerge = isFull && (mode === 'mirror' || mode === 'replace');
  const parts = diff.parts.length === 0 && mustMerge ? [{ part: 0, added: 0, changed: 0, removed: 0 }] : diff.parts;
  let invalid = 0;
  const deliverPartition = async (part: number, label: string) => {
    const loaded = await timed(`extract${label}`, () =>
      loadPartition(wd, spec, ws.connection, part, {
        sentKinds: rules.sentKinds,
        isMirror: mode === 'mirror',
        batchSize: p.spec.batch_size,
        badValueSql: unstorableValueSql(plan.columns, unstorable),
        signal: r.opts.signal,
      }),
    );
    for (const bad of await invalidRows(ws.connection, keyColumns, r.maxRejectedRecorded)) {
      if (result.rejected.length >= r.maxRejectedRecorded) break;
      result.rejected.push({ key: bad.key, column: bad.column, reason: unstorableReason(bad.column, unstorable) });
    }
    result.counts.rejected += loaded.invalid;
    const deltaCount = loaded.added + loaded.changed - loaded.invalid;
    let out: DeliveredCounts | undefined;
    if (deltaCount > 0 || mustMerge || (mode === 'mirror' && loaded.removed > 0)) {
      out = await deliverDelta({
        dest,
        ws,
        mode,
        columns: plan.columns,
        keys: plan.keys,
        keyColumns,
        isFull,
        deltaCount,
        removed: mode === 'mirror' ? loaded.removed : 0,
        snapshotRows: diff.snapshotRows,
        mergePlan,
        timed,
        signal: r.opts.signal,
        onRows: r.opts.onProgress && ((stage, rows, total) => r.opts.onProgress!({ stage, rows, total })),
        onRejected: (rejected, of) => r.recordRejected(ws, keyColumns, rejected, of),
      });
    }
    await pauseForTests('snapshot');
    await timed(`snapshot${label}`, async () => advancePartition(wd, spec, { part, ...rules, ...(await refusedRows(ws.connection)) }));
    return { invalid: loaded.invalid, out };
  };
  const { attempts, initial_delay, max_delay, jitter } = p.spec.retry;
  for (const part of parts) {
    const label = spec.partitions > 1 ? ` ${part.part + 1}/${spec.partitions}` : '';
    for (let attempt = 1; ; attempt++) {
      const rejectedBefore = { listed: result.rejected.length, counted: result.counts.rejected };
      try {
        const done = await deliverPartition(part.part, label);
        invalid += done.invalid;
        if (done.out) {
          sent += done.out.sent;
          unchangedInMerge += done.out.unchanged;
          result.counts.sent += done.out.sent;
          result.counts.inserted += done.out.inserted;
          result.counts.updated += done.out.updated;
          result.counts.deleted += done.out.deleted;
        }
        break;
      } catch (e) {
        if (!(e instanceof TransientError) || r.opts.signal.aborted) throw e;
        // The failed attempt's refusals are found again by the next one.
        result.rejected.length = rejectedBefore.listed;
        result.counts.rejected = rejectedBefore.counted;
        const why = redact(e.message).slice(0, 200);
        if (attempt >= attempts) {
          // Not transient any more: the run's own retry would only compute the same diff again.
          failure ??= new OutflowError(`partition${label} gave up after ${attempts} attempt${attempts > 1 ? 's' : ''} (retry.attempts): ${e.message}`, { cause: e });
          result.stages.push({ stage: `partition${label} gave up: ${why}`, ms: 0 });
          break;
        }
        result.stages.push({ stage: `partition${label} retry ${attempt}: ${why}`, ms: 0 });
        await sleep(backoffDelay(attempt, initial_delay, max_delay, jitter), r.opts.signal);
        // A transient fault may have broken the destination's session: the next attempt gets a new one.
        dest = await r.reconnect();
      }
    }
  }
  result.counts.unchanged = unchangedInMerge + diff.read - sent - invalid;
  if (failure) throw failure;
  await timed('snapshot', () => finishWarehouseDiff(wd, spec, r.fingerprint));
}

/**
 * The stem of this pipeline's state tables: letters, digits and _ (every warehouse takes
 * them unquoted), short enough for Postgres' 63-byte names with `_snapshot` after it.
 * Names that had to change get a hash of the original, so two pipelines never share one.
 */
export function stateNameFor(pipeline: string): string {
  const plain = pipeline.replace(/[^A-Za-z0-9_]/g, '_');
  if (plain === pipeline && plain.length <= 48) return plain;
  let h = 0x811c9dc5;
  for (const ch of pipeline) h = Math.imul(h ^ ch.codePointAt(0)!, 0x01000193) >>> 0;
  return `${plain.slice(0, 40)}_${h.toString(16).padStart(8, '0')}`;
}
