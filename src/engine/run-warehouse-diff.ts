import type { Pipeline } from '../config/load-pipeline.js';
import type { DeliveryIdentity, Destination, MergePlan } from '../destinations/destination.js';
import type { Source } from '../sources/source.js';
import type { WarehouseDiff, WarehouseDiffSpec } from '../sources/warehouse-diff.js';
import type { RunResult } from '../state/run-result.js';
import type { ColumnPlan } from './column-plan.js';
import { ConfigError, OutflowError, TransientError } from '../errors.js';
import { backoffDelay, sleep } from './retry.js';
import { redact } from '../config/redact.js';
import { openScratchWorkspace, type Workspace } from '../diff/workspace.js';
import { computeWarehouseDiff, finishWarehouseDiff, openWarehouseState, type PartitionCounts, type WarehouseDiffCounts } from '../diff/warehouse-diff.js';
import { guardMassDelete } from '../destinations/mass-delete.js';
import { type Timed } from './deliver-delta.js';
import { deliverPartition, partitionDelivery, type PartitionDone } from './deliver-partition.js';
import { MAX_REJECTED_RECORDED } from './rejected-rows.js';
import type { PartitionDispatcher, PartitionJob, PartitionOutcome } from './partition-dispatch.js';

/** The default schema (BigQuery: dataset) outflow owns in the warehouse. */
export const DEFAULT_STATE_SCHEMA = 'outflow_state';

/** Partitions a run delivered by workers is split into when the pipeline does not say. */
export const DEFAULT_WORKER_PARTITIONS = 8;

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
  /** Partitions go to `outflow worker` processes through it instead of being delivered here. */
  dispatcher?: PartitionDispatcher;
}

/** The warehouse diff's spec for a pipeline (the run and every worker build the same). */
export function warehouseDiffSpec(p: Pipeline, plan: ColumnPlan, viaWorkers: boolean): WarehouseDiffSpec {
  return {
    model: p.spec.model,
    stateSchema: p.spec.state_schema ?? DEFAULT_STATE_SCHEMA,
    stateName: stateNameFor(p.name),
    modelNames: plan.modelNames,
    columns: plan.columns,
    keys: plan.keys,
    partitions: p.spec.partitions ?? (viaWorkers ? DEFAULT_WORKER_PARTITIONS : 1),
  };
}

/** The source's warehouse diff, or a clear refusal. */
export function warehouseDiffOf(p: Pipeline, source: Source): WarehouseDiff {
  if (!source.warehouseDiff) {
    throw new ConfigError(`${p.file.split('/').pop()}: diff: warehouse: source ${source.kind} cannot compute the diff in its own warehouse; use diff: local`);
  }
  return source.warehouseDiff;
}

/**
 * A run with `diff: warehouse` (see diff/warehouse-diff.ts): the diff runs in the source
 * warehouse, then each partition of the changed rows is streamed into a workspace,
 * delivered like the local diff's delta, and recorded in the warehouse snapshot on its own
 * (deliver-partition.ts) — here, or by `outflow worker` processes when a dispatcher is given.
 *
 * Here, a partition that fails with a transient fault is retried alone (retry.attempts,
 * with backoff, on a new destination session): the partitions before it stay delivered and
 * recorded. One that gives up does not stop the others; the run then fails, and its rows
 * stay pending for the next run. By workers, the queue retries a partition the same way.
 */
export async function runWithWarehouseDiff(r: WarehouseRun): Promise<void> {
  const { p, plan, result, timed } = r;
  const wd = warehouseDiffOf(p, r.source);
  const mode = p.spec.mode;
  const spec = warehouseDiffSpec(p, plan, !!r.dispatcher);
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
  // The diff's id names its partitions in the destination's delivery ledger (unique per diff: see partitionDelivery).
  const diffId = Date.now();
  await r.dispatcher?.beginDiff(p.name, diffId, result.runId);
  let diff: WarehouseDiffCounts;
  try {
    diff = await timed('diff', () => computeWarehouseDiff(wd, spec, { isFull, hadFingerprint: stored.fingerprint !== undefined }));
  } finally {
    await r.dispatcher?.endDiff(p.name);
  }
  Object.assign(result.counts, { read: diff.read, added: diff.added, changed: diff.changed, removed: diff.removed });
  const mergePlan = r.mergePlan(isFull, partitionDelivery(p.name, 0, diffId, r.fingerprint));
  // Each partition's merge sees only its own deletes: the guard applies to the whole run here.
  if (mode === 'mirror' && !isFull) {
    guardMassDelete({ label: r.dest.label, mode, doomed: diff.removed, total: diff.snapshotRows, maxDeleteRatio: mergePlan.maxDeleteRatio, of: 'delivered rows' });
  }
  // An attempt after a failed one starts its report over from this diff (rows refused
  // before are pending again and are sent again); deliveries already made stay counted.
  result.rejected.length = 0;
  result.counts.rejected = 0;
  // An empty model still has a full mirror or replace to carry out (emptying the target).
  const mustMerge = isFull && (mode === 'mirror' || mode === 'replace');
  const parts = diff.parts.length === 0 && mustMerge ? [{ part: 0, added: 0, changed: 0, removed: 0 }] : diff.parts;
  const tally = { sent: 0, unchangedInMerge: 0, invalid: 0 };
  const add: AddOutcome = (o, label) => {
    tally.invalid += o.invalid;
    tally.sent += o.sent + o.reconciled;
    tally.unchangedInMerge += o.unchanged;
    result.counts.sent += o.sent + o.reconciled;
    result.counts.inserted += o.inserted;
    result.counts.updated += o.updated;
    result.counts.deleted += o.deleted;
    if (o.reconciled > 0) {
      result.stages.push({ stage: `partition${label}: delivered by an attempt that stopped before recording it (${o.reconciled} rows); recorded now, nothing sent again`, ms: 0 });
    }
  };
  const failure = r.dispatcher
    ? await deliverByWorkers(r, r.dispatcher, { spec, parts, diffId, isFull, snapshotRows: diff.snapshotRows }, add)
    : await deliverHere(r, { wd, spec, parts, diffId, isFull, snapshotRows: diff.snapshotRows, mergePlan }, add);
  result.counts.unchanged = tally.unchangedInMerge + diff.read - tally.sent - tally.invalid;
  if (failure) throw failure;
  await timed('snapshot', () => finishWarehouseDiff(wd, spec, r.fingerprint));
}

interface DiffParts {
  spec: WarehouseDiffSpec;
  parts: PartitionCounts[];
  diffId: number;
  isFull: boolean;
  snapshotRows: number;
}

type AddOutcome = (o: Pick<PartitionOutcome, 'sent' | 'inserted' | 'updated' | 'deleted' | 'unchanged' | 'invalid' | 'reconciled'>, label: string) => void;

function partLabel(spec: WarehouseDiffSpec, part: number): string {
  return spec.partitions > 1 ? ` ${part + 1}/${spec.partitions}` : '';
}

/** Each partition in this process, one after another; returns the first partition that gave up. */
async function deliverHere(r: WarehouseRun, d: DiffParts & { wd: WarehouseDiff; mergePlan: MergePlan }, add: AddOutcome): Promise<unknown> {
  const { p, result, timed } = r;
  let dest = r.dest;
  const ws = await openScratchWorkspace();
  r.adoptWorkspace(ws);
  let failure: unknown;
  const { attempts, initial_delay, max_delay, jitter } = p.spec.retry;
  for (const part of d.parts) {
    const label = partLabel(d.spec, part.part);
    for (let attempt = 1; ; attempt++) {
      const rejectedBefore = { listed: result.rejected.length, counted: result.counts.rejected };
      try {
        const done: PartitionDone = await deliverPartition({
          wd: d.wd,
          spec: d.spec,
          dest,
          ws,
          mode: p.spec.mode,
          columns: r.plan.columns,
          keys: r.plan.keys,
          part: part.part,
          label,
          isFull: d.isFull,
          mergePlan: { ...d.mergePlan, delivery: partitionDelivery(p.name, part.part, d.diffId, r.fingerprint) },
          snapshotRows: d.snapshotRows,
          batchSize: p.spec.batch_size,
          timed,
          signal: r.opts.signal,
          onProgress: r.opts.onProgress && ((stage, rows, total) => r.opts.onProgress!({ stage, rows, total })),
          sink: result,
        });
        add({ invalid: done.invalid, reconciled: done.reconciled ?? 0, sent: 0, inserted: 0, updated: 0, deleted: 0, unchanged: 0, ...done.out }, label);
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
  return failure;
}

/** Every partition as a job for `outflow worker` processes; returns an error naming the partitions that gave up. */
async function deliverByWorkers(r: WarehouseRun, dispatcher: PartitionDispatcher, d: DiffParts, add: AddOutcome): Promise<unknown> {
  const { p, result } = r;
  if (d.parts.length === 0) return undefined;
  const jobs: PartitionJob[] = d.parts.map((part) => ({
    pipeline: p.name,
    file: p.file,
    runId: result.runId,
    diffId: d.diffId,
    part: part.part,
    partitions: d.spec.partitions,
    isFull: d.isFull,
    fingerprint: r.fingerprint,
    allowMassDelete: !!r.opts.allowMassDelete,
    snapshotRows: d.snapshotRows,
  }));
  const { attempts, initial_delay } = p.spec.retry;
  const ended = await r.timed(`workers (${jobs.length} partitions)`, () =>
    dispatcher.deliver(jobs, {
      expireInSeconds: Math.max(1, Math.ceil(p.spec.timeouts.partition / 1000)),
      retryLimit: Math.max(1, attempts - 1),
      retryDelaySeconds: Math.max(1, Math.round(initial_delay / 1000)),
      signal: r.opts.signal,
      onProgress: r.opts.onProgress && ((done, total) => r.opts.onProgress!({ stage: 'workers', rows: done, total })),
    }),
  );
  const failed: string[] = [];
  for (const e of ended) {
    const label = partLabel(d.spec, e.part);
    if ('error' in e) {
      failed.push(`partition${label}: ${e.error}`);
      result.stages.push({ stage: `partition${label} gave up after ${e.attempts} attempt(s): ${redact(e.error).slice(0, 200)}`, ms: 0 });
      continue;
    }
    const o = e.outcome;
    if (o.superseded) {
      failed.push(`partition${label}: a newer run replaced this diff`);
      continue;
    }
    add(o, label);
    result.counts.rejected += o.rejected;
    for (const row of o.rejectedRows) if (result.rejected.length < MAX_REJECTED_RECORDED) result.rejected.push(row);
    result.stages.push({ stage: `partition${label} by ${o.worker}${e.attempts > 1 ? ` (attempt ${e.attempts})` : ''}`, ms: o.ms });
  }
  return failed.length ? new OutflowError(`${failed.length} of ${ended.length} partitions were not delivered: ${failed.join('; ')}`) : undefined;
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
