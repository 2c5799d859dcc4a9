import { basename } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import type { Pipeline } from '../config/load-pipeline.js';
import { isBulkDestination, type DeliveryIdentity, type Destination, type MergePlan, type PlannedChanges, type RejectedRow, type WritePreview } from '../destinations/destination.js';
import type { Source } from '../sources/source.js';
import type { Column, Schema, Value } from '../types/logical-type.js';
import { openHistory, type History } from '../state/history.js';
import { CancelledError, ConfigError, LockedError, ModelError, TransientError } from '../errors.js';
import { redact } from '../config/redact.js';
import { openDestination, openSource } from './connect.js';
import { runActions, type ActionContext } from './actions.js';
import { checkTarget, planColumns, schemaMismatch, type ColumnPlan } from './column-plan.js';
import { snapshotFingerprint } from './fingerprint.js';
import { adoptLearnedMemoryLimit, memoryLimitToRemember, raisedMemoryLimitAfter, withDuckdbMemoryHint } from '../duckdb/duckdb-memory.js';
import { emptyCounts, type RejectedRowRecord, type RunResult, type StageTiming } from '../state/run-result.js';
import { openWorkspace, type Workspace } from '../diff/workspace.js';
import {
  attachSnapshot,
  commitPendingDelivery,
  commitSnapshot,
  countRetries,
  countStillRejected,
  copySnapshotForReading,
  detachSnapshot,
  dropPendingDelivery,
  publishSnapshot,
  readPendingDelivery,
  readSnapshotMeta,
  savePendingDelivery,
  type SnapshotCommit,
  type SnapshotMeta,
} from '../diff/snapshot-store.js';
import { computeDiff, type DiffCounts, type DiffInput, ensureDeltaTable, invalidRows, readRows } from '../diff/compute-diff.js';
import { settleRowStreams, tableRowStream } from '../diff/delta-row-stream.js';
import { unstorableReason, unstorableValueSql } from '../duckdb/unstorable-values-sql.js';
import { columnList } from '../duckdb/duckdb-sql.js';
import { guardMassDelete } from '../destinations/mass-delete.js';
import { deliverBulk, stageMirrorKeys } from './deliver-bulk.js';
import { deliverRecords, previewRecordWrites } from './deliver-records.js';
import { type Timed } from './deliver-delta.js';
import { runWithWarehouseDiff } from './run-warehouse-diff.js';
import type { PartitionDispatcher } from './partition-dispatch.js';
import { pauseForTests } from '../test-hooks.js';
import { backoffDelay, sleep } from './retry.js';
import { writeChangeLog } from './change-log.js';
import { pullSharedSnapshot, pushSharedSnapshot, type SharedSnapshotPlace } from '../state/shared-snapshot.js';
import { MAX_REJECTED_RECORDED, recordRejected } from './rejected-rows.js';

export interface ProgressEvent {
  stage: string;
  /** Rows handled so far in this stage, when it counts rows. */
  rows?: number;
  total?: number;
}

export interface RunOptions {
  /** Ignore the snapshot and send every model row. */
  full?: boolean;
  allowMassDelete?: boolean;
  trigger?: string;
  onProgress?: (e: ProgressEvent) => void;
  signal?: AbortSignal;
  /** Called once the run holds the lock and has its id, before any stage (serve answers a trigger with it). */
  onStart?: (runId: number) => void;
  /** diff: warehouse — partitions go to `outflow worker` processes through it (run --workers, serve). */
  dispatcher?: PartitionDispatcher;
}

/**
 * One run: lock → connect → before actions → describe/validate → diff → stage → merge →
 * snapshot → on_success/on_failure → after → record. Transient faults retry the attempt
 * from the start (the diff is recomputed; merges are idempotent).
 */
export async function runPipeline(p: Pipeline, opts: RunOptions = {}): Promise<RunResult> {
  const history = await openHistory(p);
  try {
    try {
      await history.acquireLock(p.name);
    } catch (e) {
      if (e instanceof LockedError) {
        const skipped: RunResult = {
          ...baseResult(p, await history.startRun(p.name, p.spec.mode, opts.trigger ?? 'manual', 'skipped'), opts),
          status: 'skipped',
          error: e.message,
          finishedAt: new Date().toISOString(),
        };
        await history.finishRun(skipped);
      }
      throw e;
    }
    const started = await history.startRun(p.name, p.spec.mode, opts.trigger ?? 'manual');
    opts.onStart?.(started.id);
    const result = baseResult(p, started, opts);
    const t0 = Date.now();
    try {
      const { attempts, initial_delay, max_delay, jitter } = p.spec.retry;
      // One budget for the whole run: every attempt and every pause between attempts.
      const runSignal = runBudget(p, opts.signal);
      for (let attempt = 1; ; attempt++) {
        try {
          await withRunTimeout(p, opts.signal, runSignal, (signal) => attemptRun(p, result, history, { ...opts, signal }));
          break;
        } catch (e) {
          // DuckDB out of memory under the automatic limit: try again with a higher limit.
          const raised = runSignal.aborted ? undefined : raisedMemoryLimitAfter(e, configuredMemoryLimit(p));
          if (raised) {
            result.stages.push({ stage: `again: DuckDB ran out of memory, its memory_limit raised to ${raised}`, ms: 0 });
            attempt--;
            continue;
          }
          if (!(e instanceof TransientError) || runSignal.aborted) throw e;
          if (attempt >= attempts) {
            e.message += ` (gave up after ${attempts} attempt${attempts > 1 ? 's' : ''}; retry.attempts is ${attempts})`;
            throw e;
          }
          result.stages.push({ stage: `retry ${attempt}: ${redact(e.message).slice(0, 200)}`, ms: 0 });
          await sleep(backoffDelay(attempt, initial_delay, max_delay, jitter), runSignal);
        }
      }
      result.status = result.counts.rejected > 0 ? 'partial' : 'success';
    } catch (e) {
      result.status = e instanceof CancelledError ? 'cancelled' : 'failed';
      result.error = redact(errorText(e, p));
      result.cause = e;
    } finally {
      result.durationMs = Date.now() - t0;
      result.finishedAt = new Date().toISOString();
      await history.finishRun(result);
      await history.releaseLock(p.name);
    }
    return result;
  } finally {
    await history.close();
  }
}

function baseResult(p: Pipeline, { id, number, startedAt }: { id: number; number: number; startedAt: string }, opts: RunOptions): RunResult {
  return {
    runId: id,
    runNumber: number,
    pipeline: p.name,
    status: 'running',
    startedAt,
    durationMs: 0,
    syncKind: 'incremental',
    mode: p.spec.mode,
    counts: emptyCounts(),
    stages: [],
    rejected: [],
    trigger: opts.trigger ?? 'manual',
  };
}

/** The source's explicit DuckDB memory_limit; undefined when it is automatic. */
function configuredMemoryLimit(p: Pipeline): string | undefined {
  return (p.spec.source as { memory_limit?: string }).memory_limit;
}

function errorText(e: unknown, p: Pipeline): string {
  return withDuckdbMemoryHint(e instanceof Error ? e.message : String(e), configuredMemoryLimit(p));
}

/** The whole-run timeout (timeouts.run) and external cancellation, as one AbortSignal. */
function runBudget(p: Pipeline, outer: AbortSignal | undefined): AbortSignal {
  const signals = [outer, p.spec.timeouts.run ? AbortSignal.timeout(p.spec.timeouts.run) : undefined].filter(Boolean) as AbortSignal[];
  return signals.length ? AbortSignal.any(signals) : new AbortController().signal;
}

/** Runs one attempt under the run's budget: when it runs out, the attempt is abandoned with a CancelledError. */
async function withRunTimeout<T>(p: Pipeline, outer: AbortSignal | undefined, signal: AbortSignal, fn: (s: AbortSignal) => Promise<T>): Promise<T> {
  if (signal.aborted) {
    throw new CancelledError(
      p.spec.timeouts.run && !outer?.aborted ? `the run exceeded timeouts.run (${p.spec.timeouts.run} ms) and was stopped` : 'the run was cancelled before it started',
    );
  }
  let onAbort!: () => void;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => {
      const byTimeout = p.spec.timeouts.run && !outer?.aborted;
      reject(new CancelledError(byTimeout ? `the run exceeded timeouts.run (${p.spec.timeouts.run} ms) and was stopped` : 'the run was cancelled'));
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
  aborted.catch(() => undefined);
  const attempt = fn(signal);
  try {
    return await Promise.race([attempt, aborted]);
  } catch (e) {
    // Give the interrupted attempt a moment to unwind (close DuckDB, release files)
    // before the run is recorded and its lock released.
    if (e instanceof CancelledError) await Promise.race([attempt.catch(() => undefined), sleep(15_000)]);
    throw e;
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}

interface Connected {
  source?: Source;
  destination?: Destination;
  workspace?: Workspace;
  snapshotAttached?: boolean;
}

async function closeAll(c: Connected): Promise<void> {
  if (c.workspace) await settleRowStreams(c.workspace.connection);
  if (c.workspace && c.snapshotAttached) await detachSnapshot(c.workspace.connection);
  await c.workspace?.close().catch(() => undefined);
  await c.destination?.close().catch(() => undefined);
  await c.source?.close().catch(() => undefined);
}

async function attemptRun(p: Pipeline, result: RunResult, history: History, opts: RunOptions & { signal: AbortSignal }): Promise<void> {
  const c: Connected = {};
  // Closing the connections is what actually stops a query in flight when the run is cancelled.
  // Cancelling stops work in flight without closing DuckDB under a running statement (that
  // aborts the process): DuckDB is interrupted, network connections are closed, and the
  // attempt's own `finally` closes the rest once its statements have returned.
  const onAbort = () => {
    try {
      c.workspace?.connection.interrupt();
    } catch {
      // nothing running
    }
    void c.destination?.close().catch(() => undefined);
    if (c.source && !c.source.duckdbRelation) void c.source.close().catch(() => undefined);
  };
  opts.signal.addEventListener('abort', onAbort, { once: true });
  const stages: StageTiming[] = result.stages;
  const timed = async <T>(stage: string, fn: () => Promise<T>): Promise<T> => {
    if (opts.signal.aborted) throw new CancelledError('the run was cancelled');
    opts.onProgress?.({ stage });
    const t = Date.now();
    try {
      return await fn();
    } finally {
      stages.push({ stage, ms: Date.now() - t });
      await history.updateRun(result.runId, result.counts, stages);
    }
  };
  const actx: ActionContext = { names: {}, onSkip: (message) => stages.push({ stage: message, ms: 0 }) };
  try {
    await timed('connect', async () => {
      // Both at once (DuckDB's load and the Postgres handshake overlap); whichever opened is
      // kept in `c`, so closeAll releases it when the other failed.
      const [source, destination] = await Promise.allSettled([openSource(p), openDestination(p)]);
      if (source.status === 'fulfilled') c.source = source.value;
      if (destination.status === 'fulfilled') c.destination = destination.value;
      if (source.status === 'rejected') throw source.reason;
      if (destination.status === 'rejected') throw destination.reason;
      actx.source = c.source;
      actx.destination = c.destination;
    });
    const dest = c.destination!;
    const source = c.source!;
    actx.names = await dest.actionNames();
    await timed('before actions', () => runActions(p, 'before', actx));
    const { plan, schema } = await timed('describe', () => describeAndPrepare(p, source, dest, true));
    if (p.spec.diff === 'warehouse') {
      await runWithWarehouseDiff({
        p,
        source,
        dest,
        plan,
        fingerprint: snapshotFingerprint(p, plan),
        result,
        opts,
        timed,
        adoptWorkspace: (ws) => (c.workspace = ws),
        reconnect: async () => {
          await c.destination?.close().catch(() => undefined);
          c.destination = undefined;
          c.destination = await openDestination(p);
          actx.destination = c.destination;
          // A destination learns its target when described; staging needs it.
          await c.destination.describe?.();
          return c.destination;
        },
        mergePlan: (isFull, delivery) => mergePlanFor(p, plan, isFull, !!opts.allowMassDelete, delivery),
        dispatcher: opts.dispatcher,
      });
      // The destination may have been opened again (see reconnect).
      await finishAttempt(p, c.destination!, actx, timed);
      return;
    }
    const prepared = await timed('extract', () =>
      prepareWorkspace(p, source, schema, plan, { ...opts, reconcile: true, onPulled: (v) => stages.push({ stage: `snapshot version ${v} fetched from the state database`, ms: 0 }) }, c),
    );
    const { ws, isFull, fullReason, fingerprint, meta } = prepared;
    if (prepared.reconciled !== undefined) {
      result.stages.push({ stage: `reconciled: run ${prepared.reconciled} had delivered before it stopped; its snapshot was saved now, nothing sent again`, ms: 0 });
    }
    result.syncKind = isFull ? 'full' : 'incremental';
    result.fullReason = fullReason;
    const diff = await timed('diff', () => computeDiff(diffInput(p, prepared, plan, dest.capabilities)));
    Object.assign(result.counts, {
      read: diff.read,
      added: diff.added,
      changed: diff.changed,
      removed: diff.removed,
      notSent: diff.notSent,
      leftModel: p.spec.mode === 'mirror' ? 0 : diff.gone,
    });
    if (!diff.matchesSnapshot) {
      // Rows the last run refused, sent again: retries, not new rows or changes.
      const retries = await countRetries(ws.connection, plan.keys);
      result.counts.retried = retries.added + retries.changed;
      result.counts.added -= retries.added;
      result.counts.changed -= retries.changed;
    }
    const keyColumns = plan.keys.map((k) => plan.columns.find((col) => col.name === k)!);
    const unstorable = dest.capabilities.unstorable;
    for (const bad of await invalidRows(ws.connection, keyColumns, MAX_REJECTED_RECORDED)) {
      result.rejected.push({ key: bad.key, column: bad.column, reason: unstorableReason(bad.column, unstorable) });
    }
    result.counts.rejected = diff.invalid;
    const deltaCount = sentCount(diff);
    const delivery: DeliveryIdentity = { pipeline: p.name, runId: result.runId, snapshotVersion: meta.version + 1, fingerprint };
    const snapshotCommit = (cursor: string | undefined): SnapshotCommit => ({
      isFull,
      keys: plan.keys,
      keyColumns,
      forgetRemoved: p.spec.mode === 'mirror',
      forgetGone: p.spec.mode === 'upsert' || p.spec.mode === 'update',
      fingerprint,
      memoryLimitMb: memoryLimitToRemember(configuredMemoryLimit(p)),
      version: delivery.snapshotVersion,
      // With rejected rows the cursor stays put: the next run reads them again.
      cursor: p.spec.incremental ? cursor : undefined,
    });
    // What the snapshot commit will record, kept in the snapshot file before a destination
    // with a delivery ledger commits, for the next run to finish with should this one die in between.
    const savePending = async (isWholeModelDelivered: boolean) => {
      if (!isBulkDestination(dest) || !dest.delivered) return;
      await timed('pending delivery', () =>
        savePendingDelivery(ws.connection, {
          runId: result.runId,
          isWholeModelDelivered,
          commit: snapshotCommit(result.counts.rejected > 0 ? meta.cursor : diff.maxCursor ?? meta.cursor),
          cursorIfRefused: meta.cursor,
        }),
      );
    };
    const mergePlan = mergePlanFor(p, plan, isFull, !!opts.allowMassDelete, delivery);
    const needsMerge = deltaCount > 0 || (p.spec.mode === 'mirror' && (isFull || diff.removed > 0)) || p.spec.mode === 'replace';
    // A full sync leaves the rows to send as a view; the numbered table is built only if needed.
    let isWholeModelDelivered = isFull;
    let loadedDirectly = false;
    if (!needsMerge) {
      result.counts.unchanged = diff.read - diff.invalid - diff.notSent;
    } else if (isBulkDestination(dest)) {
      actx.isStaged = true;
      const { merged } = await deliverBulk(
        dest,
        {
          ws,
          columns: plan.columns,
          keyColumns,
          deltaCount,
          isFull,
          plan: mergePlan,
          timed,
          beforeDelivery: savePending,
          onStageRows: opts.onProgress && ((rows) => opts.onProgress!({ stage: 'stage', rows, total: deltaCount })),
        },
        (st) => recordRejected(ws, keyColumns, st.rejected, result),
      );
      result.counts.sent = deltaCount;
      loadedDirectly = !merged;
      if (!merged) {
        result.counts.inserted = deltaCount;
      } else {
        isWholeModelDelivered = false;
        Object.assign(result.counts, { inserted: merged.inserted, updated: merged.updated, deleted: merged.deleted });
        await recordRejected(ws, keyColumns, merged.rejected, result);
        await recordRejected(ws, keyColumns, merged.rejectedDeletes ?? [], result, 'removed');
        result.counts.unchanged = merged.unchanged;
      }
      result.counts.unchanged += diff.read - diff.invalid - deltaCount - diff.notSent;
    } else {
      // Record destinations cannot count their target: the guard reads the snapshot, before anything is sent.
      if (p.spec.mode === 'mirror' && !isFull) {
        guardMassDelete({ label: dest.label, mode: 'mirror', doomed: diff.removed, total: meta.rows, maxDeleteRatio: mergePlan.maxDeleteRatio, of: 'delivered rows' });
      }
      isWholeModelDelivered = false;
      const written = await timed('write', () =>
        deliverRecords(dest, {
          ws,
          mode: p.spec.mode,
          columns: plan.columns,
          keys: plan.keys,
          delivery,
          signal: opts.signal,
          onRows: opts.onProgress && ((rows) => opts.onProgress!({ stage: 'write', rows, total: deltaCount + diff.removed })),
        }),
      );
      result.counts.sent = deltaCount;
      Object.assign(result.counts, { inserted: written.added, updated: written.changed, deleted: written.removed });
      // replace: the whole model is written; what the run did not write goes (the destination finds it, guarded).
      if (p.spec.mode === 'replace' && dest.deleteUnwritten) {
        result.counts.deleted += await timed('delete unwritten', () => dest.deleteUnwritten!({ maxDeleteRatio: mergePlan.maxDeleteRatio }));
      }
      await recordRejected(ws, keyColumns, written.rejected, result);
      await recordRejected(ws, keyColumns, written.rejectedRemoved, result, 'removed');
      result.counts.unchanged = diff.read - diff.invalid - deltaCount - diff.notSent;
    }
    await timed('change log', () => writeChangeLog(p, ws, history, result, { keyColumns, isFull, isSent: needsMerge, loadedDirectly }));
    await pauseForTests('snapshot');
    // A model that matches the snapshot leaves it as it is: nothing to record.
    if (!diff.matchesSnapshot) {
      result.counts.stillRejected = await countStillRejected(ws.connection, plan.keys, isWholeModelDelivered);
      await timed('snapshot', () =>
        commitSnapshot(ws.connection, {
          ...snapshotCommit(result.counts.rejected > 0 ? meta.cursor : diff.maxCursor ?? meta.cursor),
          isWholeModelDelivered,
        }).then(() => publishSnapshot(ws.connection, p.stateDir, p.name)),
      );
      if (p.stateUrl) await shareSnapshot(p, delivery.snapshotVersion, timed, stages);
    }
    await finishAttempt(p, dest, actx, timed);
  } catch (e) {
    const extra: string[] = [];
    for (const hook of ['on_failure', 'after'] as const) {
      if (!c.destination || opts.signal.aborted) break;
      try {
        await runActions(p, hook, actx);
      } catch (ae) {
        extra.push((ae as Error).message);
      }
    }
    if (extra.length && e instanceof Error) e.message += `; also: ${extra.join('; ')}`;
    throw e;
  } finally {
    opts.signal.removeEventListener('abort', onAbort);
    await closeAll(c);
  }
}

/**
 * With a state database, the committed snapshot is stored there for runs on other machines.
 * The delivery and the local snapshot are committed already: a failure here is a warning
 * (the next commit stores its own version; until then another machine would send these
 * rows again, which the merge makes harmless), not a reason to run again.
 */
async function shareSnapshot(p: Pipeline, version: number, timed: Timed, stages: StageTiming[]): Promise<void> {
  try {
    await timed('share snapshot', () => pushSharedSnapshot(sharedSnapshotPlace(p), version));
  } catch (e) {
    stages.push({ stage: `warning: ${redact((e as Error).message).slice(0, 300)}`, ms: 0 });
  }
}

function sharedSnapshotPlace(p: Pipeline): SharedSnapshotPlace {
  return { url: p.stateUrl!, stateDir: p.stateDir, pipeline: p.name };
}

/** After the snapshot is recorded: the destination's staging dropped, then the success and after actions. */
async function finishAttempt(p: Pipeline, dest: Destination, actx: ActionContext, timed: Timed): Promise<void> {
  await timed('cleanup', () => dest.cleanup());
  await timed('success actions', () => runActions(p, 'on_success', actx));
  await timed('after actions', () => runActions(p, 'after', actx));
}

/**
 * A run that died after its delivery committed but before its snapshot was saved left a
 * pending delivery in the snapshot file: when the destination's ledger holds that run, the
 * snapshot is committed from it now (less the rows the merge refused), so nothing is sent
 * twice; when it does not, the delivery never happened and the pending delta is dropped.
 * Returns the run finished this way.
 */
async function reconcileDelivery(p: Pipeline, connection: DuckDBConnection, dest: Destination | undefined): Promise<number | undefined> {
  const pending = await readPendingDelivery(connection);
  if (!pending) return undefined;
  const delivered = dest && isBulkDestination(dest) && dest.delivered ? await dest.delivered(p.name, pending.runId) : undefined;
  if (!delivered) {
    await dropPendingDelivery(connection);
    return undefined;
  }
  await commitPendingDelivery(connection, pending, delivered.refused);
  return pending.runId;
}

/** Rows the destination is sent: added and changed, less the changes the mode does not send and the rows refused before sending. */
function sentCount(diff: DiffCounts): number {
  return diff.added + diff.changed - diff.notSent - diff.invalid;
}

/**
 * The one MergePlan of a run (preview asks `plan` with the same). The mass-delete limit is
 * dropped by --allow-mass-delete; the destination enforces it inside its merge.
 */
export function mergePlanFor(p: Pipeline, plan: ColumnPlan, isFull: boolean, allowMassDelete: boolean, delivery: DeliveryIdentity): MergePlan {
  return {
    mode: p.spec.mode,
    keys: plan.keys,
    columns: plan.columns.map((col) => col.name),
    deletes: p.spec.mode === 'mirror' ? (isFull ? 'absent' : 'keys') : 'none',
    maxDeleteRatio: allowMassDelete ? undefined : p.spec.max_delete_ratio,
    delivery,
  };
}

/** Reads the model's schema, maps it, and checks (or creates) the target. Nothing is written when `mayCreate` is false. */
export async function describeAndPrepare(
  p: Pipeline,
  source: Source,
  dest: Destination,
  mayCreate: boolean,
): Promise<{ plan: ColumnPlan; schema: Awaited<ReturnType<Source['describe']>>; targetExists: boolean; problems: string[] }> {
  const modes = dest.capabilities.modes;
  if (!modes.includes(p.spec.mode)) {
    throw new ConfigError(
      `${p.file.split('/').pop()}: mode: destination ${dest.kind} does not offer mode ${p.spec.mode}; it offers ${modes.join(', ')}`,
    );
  }
  const schema = await describeModel(p, source);
  const plan = planColumns(p, schema);
  // A destination with no table to describe (an API, a cache) checks its own settings against the columns.
  if (!dest.describe) {
    const problems = isBulkDestination(dest) ? [] : (dest.checkColumns?.(plan.columns, plan.keys) ?? []);
    if (problems.length && mayCreate) throw schemaMismatch(problems, dest.label);
    return { plan, schema, targetExists: true, problems };
  }
  const target = await dest.describe();
  if (!target) {
    const table = p.spec.destination as { table?: string; create_table?: boolean };
    if (table.create_table === false) {
      throw schemaMismatch([`table ${table.table} does not exist and destination.create_table is false`], dest.label);
    }
    if (mayCreate) await dest.createTable?.(plan.columns, plan.keys);
    return { plan, schema, targetExists: false, problems: [] };
  }
  const problems = checkTarget(p, plan, target, dest);
  if (problems.length && mayCreate) throw schemaMismatch(problems, dest.label);
  return { plan, schema, targetExists: true, problems };
}

/** The model's columns; a model the source rejects (bad SQL, no such table) is named with its file, source and model. */
export async function describeModel(p: Pipeline, source: Source): Promise<Schema> {
  try {
    return await source.describe(p.spec.model);
  } catch (e) {
    if (!(e instanceof ModelError)) throw e;
    const model = 'query' in p.spec.model ? 'model.query' : `model.table ${p.spec.model.table}`;
    throw new ModelError(`${basename(p.file)}: ${model} (source ${p.spec.source.type}): ${e.message}`, { cause: e });
  }
}

async function prepareWorkspace(
  p: Pipeline,
  source: Source,
  schema: Schema,
  plan: ColumnPlan,
  opts: RunOptions & { snapshotFile?: string; reconcile?: boolean; onPulled?: (version: number) => void },
  c: Connected,
) {
  let reconciled: number | undefined;
  const fingerprint = snapshotFingerprint(p, plan);
  let meta: SnapshotMeta = { rows: 0, version: 0 };
  let extracted = 0;
  let extractTotal: number | undefined;
  let fullReason: string | undefined;
  // A run (under its lock) first takes a newer snapshot another machine stored in the state database.
  if (p.stateUrl && !opts.snapshotFile) {
    const pulled = await pullSharedSnapshot(sharedSnapshotPlace(p));
    if (pulled !== undefined) opts.onPulled?.(pulled);
  }
  const ws = await openWorkspace(source, p.spec.model, schema, {
    stateDir: p.stateDir,
    batchSize: p.spec.batch_size,
    onRows: (n) => opts.onProgress?.({ stage: 'extract', rows: (extracted += n), total: extractTotal }),
    onTotal: (rows) => (extractTotal = rows),
    // The snapshot is read before the model is loaded, so that in cursor mode a source
    // that is not DuckDB is asked only for rows past the stored cursor.
    beforeLoad: async (connection) => {
      await attachSnapshot(connection, p.stateDir, p.name, opts.snapshotFile);
      c.snapshotAttached = true;
      if (opts.reconcile) reconciled = await reconcileDelivery(p, connection, c.destination);
      meta = await readSnapshotMeta(connection);
      // An earlier run needed more DuckDB memory than the automatic start: begin there.
      await adoptLearnedMemoryLimit(connection, meta.memoryLimitMb, configuredMemoryLimit(p));
      if (opts.full) fullReason = '--full was given';
      else if (p.spec.mode === 'replace') fullReason = 'replace sends the whole model every run';
      else if (!meta.fingerprint) fullReason = 'first run: no snapshot yet';
      else if (meta.fingerprint !== fingerprint) fullReason = 'the mapping, key or destination changed since the last run';
    },
    cursor: () =>
      p.spec.incremental && fullReason === undefined && meta.cursor !== undefined ? { column: p.spec.incremental.cursor, after: meta.cursor } : undefined,
  });
  c.workspace = ws;
  return { ws, isFull: fullReason !== undefined, fullReason, fingerprint, meta, reconciled };
}

function diffInput(p: Pipeline, prepared: Awaited<ReturnType<typeof prepareWorkspace>>, plan: ColumnPlan, capabilities: Destination['capabilities']): DiffInput {
  const { ws, isFull, meta } = prepared;
  return {
    connection: ws.connection,
    relation: ws.relation,
    modelNames: plan.modelNames,
    columns: plan.columns,
    keys: plan.keys,
    mode: p.spec.mode,
    isFull,
    cursor: p.spec.incremental ? { column: p.spec.incremental.cursor, after: isFull ? undefined : meta.cursor } : undefined,
    badValueSql: unstorableValueSql(plan.columns, capabilities.unstorable),
    // Record destinations get the rows in key order: the next run after a crash batches the
    // same rows the same way, so its requests carry the same idempotency keys.
    isKeyOrdered: capabilities.shape === 'records',
    snapshotRows: meta.rows,
    snapshotSummary: meta.summary,
  };
}

export interface PreviewResult {
  pipeline: string;
  mode: string;
  syncKind: 'full' | 'incremental';
  fullReason?: string;
  /** `notSent`: changed rows the mode does not send (insert, insert_new); `leftModel`: rows that left the model and stay in the destination. */
  counts: { read: number; added: number; changed: number; removed: number; invalid: number; notSent: number; leftModel: number };
  /** What the destination would do, computed against the target without changing it. */
  planned?: PlannedChanges;
  targetExists: boolean;
  columns: string[];
  samples: { added: Value[][]; changed: Value[][]; removed: Value[][] };
  /** A record destination: the first requests or commands a run would send (none are sent). */
  writes?: WritePreview[];
  problems: string[];
}

/** A dry run: the diff, the planned changes and sample rows. Nothing is written to the target or the snapshot. */
export async function previewPipeline(p: Pipeline, opts: { full?: boolean; sampleSize?: number } = {}): Promise<PreviewResult> {
  const c: Connected = {};
  const n = opts.sampleSize ?? 5;
  if (p.spec.diff === 'warehouse') {
    throw new ConfigError(`${p.file.split('/').pop()}: diff: warehouse: preview does not compute the warehouse-side diff yet; run it, or preview with diff: local`);
  }
  // A dry run reads a private copy of the last committed snapshot: a run going on meanwhile
  // (a schedule in serve, another process) keeps its own file and lock.
  const snapshot = copySnapshotForReading(p.stateDir, p.name);
  try {
    c.source = await openSource(p);
    c.destination = await openDestination(p, { isDryRun: true });
    const dest = c.destination;
    const { plan, schema, targetExists, problems } = await describeAndPrepare(p, c.source, dest, false);
    const prepared = await prepareWorkspace(p, c.source, schema, plan, { ...opts, snapshotFile: snapshot.file }, c);
    const { ws, isFull, fullReason, meta } = prepared;
    const diff = await computeDiff(diffInput(p, prepared, plan, dest.capabilities));
    // Samples and staging read numbered rows (a record destination's in key order, as a run numbers them).
    await ensureDeltaTable(ws.connection, isBulkDestination(dest) ? undefined : plan.keys);
    const keyColumns = plan.keys.map((k) => plan.columns.find((col) => col.name === k)!);
    const names = plan.columns.map((col) => col.name);
    const sample = (where: string) => readRows(ws.connection, `SELECT ${columnList(names)} FROM _outflow_delta WHERE ${where} ORDER BY _rn LIMIT ${n}`, plan.columns);
    const samples = {
      added: await sample('_added'),
      changed: await sample('NOT _added'),
      removed: await readRows(ws.connection, `SELECT ${columnList(plan.keys)} FROM _outflow_removed LIMIT ${n}`, keyColumns),
    };
    let planned: PlannedChanges | undefined;
    // Only a bulk destination can say what a merge would do without doing it.
    if (isBulkDestination(dest) && targetExists && problems.length === 0) {
      const deltaCount = sentCount(diff);
      await dest.stage(plan.columns, tableRowStream(ws.connection, '_outflow_delta', deltaCount, plan.columns, dest.encoding), { mayLoadDirectly: false });
      if (p.spec.mode === 'mirror') await stageMirrorKeys(dest, ws, keyColumns, false);
      planned = await dest.plan(mergePlanFor(p, plan, isFull, false, { pipeline: p.name, runId: 0, snapshotVersion: meta.version + 1, fingerprint: prepared.fingerprint }));
    }
    const writes =
      isBulkDestination(dest) || problems.length
        ? undefined
        : await previewRecordWrites(dest, ws, p.spec.mode, plan, { pipeline: p.name, runId: 0, snapshotVersion: meta.version + 1, fingerprint: prepared.fingerprint });
    return {
      pipeline: p.name,
      mode: p.spec.mode,
      syncKind: isFull ? 'full' : 'incremental',
      fullReason,
      counts: { read: diff.read, added: diff.added, changed: diff.changed, removed: diff.removed, invalid: diff.invalid, notSent: diff.notSent, leftModel: p.spec.mode === 'mirror' ? 0 : diff.gone },
      planned,
      writes,
      targetExists,
      columns: plan.columns.map((col) => col.name),
      samples,
      problems,
    };
  } finally {
    await closeAll(c);
    snapshot.dispose();
  }
}

export type { RejectedRowRecord };
