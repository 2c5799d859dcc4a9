import type { DeliveryIdentity, DeltaRecord, RecordDestination, RejectedRow, WritePreview } from '../destinations/destination.js';
import type { SyncMode } from '../config/pipeline-schema.js';
import type { Column } from '../types/logical-type.js';
import type { Workspace } from '../diff/workspace.js';
import { deltaRecordBatches } from '../diff/delta-records.js';
import { CancelledError, OutflowError, TransientError } from '../errors.js';
import { pauseForTests } from '../test-hooks.js';
import { backoffDelay, sleep } from './retry.js';

/** Rows per write when a record destination declares no limit. */
const DEFAULT_BATCH_ROWS = 500;
/** Writes in a row that deliver nothing before the run gives up (a TransientError: the run's retry policy takes over). */
const MAX_STALLED_WRITES = 5;

export interface RecordDelivery {
  ws: Workspace;
  mode: SyncMode;
  columns: Column[];
  keys: string[];
  delivery: DeliveryIdentity;
  signal: AbortSignal;
  onRows?: (done: number) => void;
}

export interface RecordOutcome {
  added: number;
  changed: number;
  removed: number;
  /** Refused upserts, by _outflow_delta row number. */
  rejected: RejectedRow[];
  /** Refused removals, by _outflow_removed row number. */
  rejectedRemoved: RejectedRow[];
}

/**
 * The records shape: the delta read from the workspace in bounded batches (upserts, then
 * mirror's removals) and written batch by batch. A write answers for a prefix of its
 * batch; the rest is sent again after `retryAfterMs` (or a backoff). Rows the destination
 * refuses are returned for the rejected-row bookkeeping, exactly like bulk rejections: the
 * snapshot then records only what was delivered.
 */
export async function deliverRecords(dest: RecordDestination, d: RecordDelivery): Promise<RecordOutcome> {
  const out: RecordOutcome = { added: 0, changed: 0, removed: 0, rejected: [], rejectedRemoved: [] };
  const batchRows = dest.capabilities.maxBatchRows ?? DEFAULT_BATCH_ROWS;
  let done = 0;
  let first = true;
  for (const kind of ['upserts', 'removed'] as const) {
    if (kind === 'removed' && d.mode !== 'mirror') break;
    for await (const records of readAhead(deltaRecordBatches(d.ws.connection, kind, d.columns, d.keys, batchRows))) {
      const rejected = await writeAll(dest, d, records);
      const refused = new Set(rejected.map((r) => r.rn));
      for (const r of records) if (!refused.has(r.rn)) out[r.op]++;
      (kind === 'upserts' ? out.rejected : out.rejectedRemoved).push(...rejected);
      done += records.length;
      d.onRows?.(done);
      if (first) await pauseForTests('write'); // crash tests: one batch delivered, the snapshot not yet committed
      first = false;
    }
  }
  return out;
}

/**
 * Yields what `source` yields, reading the next item while the caller works on this one:
 * DuckDB reads the next batch while the destination waits on the network for the current
 * one (a profile of a load into Redis found the process idle a quarter of the time, waiting
 * on one or the other). One batch ahead at most, so memory stays at two batches.
 */
async function* readAhead<T>(source: AsyncIterable<T>): AsyncIterable<T> {
  const it = source[Symbol.asyncIterator]();
  let next = it.next();
  try {
    for (;;) {
      const r = await next;
      if (r.done) return;
      next = it.next();
      yield r.value;
    }
  } finally {
    // Stopped early (a write failed): the read in flight finishes before its query is closed.
    await next.then(
      () => undefined,
      () => undefined,
    );
    await it.return?.();
  }
}

async function writeAll(dest: RecordDestination, d: RecordDelivery, records: DeltaRecord[]): Promise<RejectedRow[]> {
  const rejected: RejectedRow[] = [];
  let pending = records;
  let stalled = 0;
  while (pending.length > 0) {
    if (d.signal.aborted) throw new CancelledError('the run was cancelled');
    const r = await dest.write({ mode: d.mode, columns: d.columns, keys: d.keys, records: pending, delivery: d.delivery });
    const handled = r.delivered + r.rejected.length;
    const inBatch = new Set(pending.slice(0, handled).map((x) => x.rn));
    if (r.delivered < 0 || handled > pending.length || r.rejected.some((x) => !inBatch.has(x.rn))) {
      throw new OutflowError(`${dest.label}: the destination answered for rows it was not sent (delivered ${r.delivered}, rejected ${r.rejected.length} of ${pending.length})`);
    }
    rejected.push(...r.rejected);
    pending = pending.slice(handled);
    if (pending.length === 0) break;
    stalled = handled === 0 ? stalled + 1 : 0;
    if (stalled >= MAX_STALLED_WRITES) {
      throw new TransientError(`${dest.label}: ${MAX_STALLED_WRITES} writes in a row delivered nothing (${pending.length} rows waiting)`);
    }
    await sleep(r.retryAfterMs ?? backoffDelay(stalled + 1, 200, 10_000, 0.2), d.signal);
  }
  return rejected;
}

/** Requests (or commands) shown per batch kind by `preview`. */
const PREVIEWED_WRITES = 3;

/**
 * What a run would send first, for `preview`: the first batch of upserts (and, in mirror,
 * of removals), as the destination would write it. Nothing is sent.
 */
export async function previewRecordWrites(
  dest: RecordDestination,
  ws: Workspace,
  mode: SyncMode,
  plan: { columns: Column[]; keys: string[] },
  delivery: DeliveryIdentity,
): Promise<WritePreview[] | undefined> {
  if (!dest.previewWrites) return undefined;
  const out: WritePreview[] = [];
  const batchRows = dest.capabilities.maxBatchRows ?? DEFAULT_BATCH_ROWS;
  for (const kind of ['upserts', 'removed'] as const) {
    if (kind === 'removed' && mode !== 'mirror') break;
    for await (const records of deltaRecordBatches(ws.connection, kind, plan.columns, plan.keys, batchRows)) {
      out.push(...dest.previewWrites({ mode, columns: plan.columns, keys: plan.keys, records, delivery }, PREVIEWED_WRITES));
      break;
    }
  }
  return out;
}
