import { basename } from 'node:path';
import { hostname } from 'node:os';
import type { Pipeline } from '../config/load-pipeline.js';
import type { Destination } from '../destinations/destination.js';
import type { Source } from '../sources/source.js';
import type { RejectedRowRecord } from '../state/run-result.js';
import { jsonSafe } from '../state/history.js';
import { ConfigError } from '../errors.js';
import { openScratchWorkspace, type Workspace } from '../diff/workspace.js';
import { openDestination, openSource } from './connect.js';
import { schemaMismatch } from './column-plan.js';
import { snapshotFingerprint } from './fingerprint.js';
import { describeAndPrepare, mergePlanFor } from './run-pipeline.js';
import { warehouseDiffOf, warehouseDiffSpec } from './run-warehouse-diff.js';
import { deliverPartition, partitionDelivery } from './deliver-partition.js';
import { MAX_REJECTED_PER_PARTITION, type PartitionJob, type PartitionOutcome } from './partition-dispatch.js';

/**
 * A worker's part of a run: one partition of a warehouse diff, delivered with the
 * worker's own copy of the pipeline (same file, its own environment for secrets). The
 * worker's mapping must be the run's (`fingerprint`), or the hashes it records would not
 * be the ones the run's diff compared.
 */
export async function runPartitionJob(p: Pipeline, job: PartitionJob, signal: AbortSignal): Promise<PartitionOutcome> {
  const t0 = Date.now();
  let source: Source | undefined;
  let dest: Destination | undefined;
  let ws: Workspace | undefined;
  try {
    // Staging tables named for the partition: workers deliver partitions of one pipeline side by side.
    const [s, d] = await Promise.allSettled([openSource(p), openDestination(p, { stagingName: `${p.name.slice(0, 40)}_p${job.part}` })]);
    if (s.status === 'fulfilled') source = s.value;
    if (d.status === 'fulfilled') dest = d.value;
    if (s.status === 'rejected') throw s.reason;
    if (d.status === 'rejected') throw d.reason;
    const { plan, problems } = await describeAndPrepare(p, source!, dest!, false);
    if (problems.length) throw schemaMismatch(problems, dest!.label);
    if (snapshotFingerprint(p, plan) !== job.fingerprint) {
      throw new ConfigError(
        `${basename(p.file)}: this worker's copy of pipeline ${p.name} maps the model differently from the run that enqueued partition ${job.part + 1} (run ${job.runId}); give every worker the same pipeline file`,
      );
    }
    const spec = { ...warehouseDiffSpec(p, plan, true), partitions: job.partitions };
    ws = await openScratchWorkspace();
    const sink = { rejected: [] as RejectedRowRecord[], counts: { rejected: 0 } };
    const done = await deliverPartition({
      wd: warehouseDiffOf(p, source!),
      spec,
      dest: dest!,
      ws,
      mode: p.spec.mode,
      columns: plan.columns,
      keys: plan.keys,
      part: job.part,
      label: ` ${job.part + 1}/${job.partitions}`,
      isFull: job.isFull,
      mergePlan: mergePlanFor(p, plan, job.isFull, job.allowMassDelete, partitionDelivery(p.name, job.part, job.diffId, job.fingerprint)),
      snapshotRows: job.snapshotRows,
      batchSize: p.spec.batch_size,
      timed: (_stage, fn) => fn(),
      signal,
      sink,
    });
    await dest!.cleanup();
    const o = done.out;
    return {
      part: job.part,
      sent: o?.sent ?? 0,
      inserted: o?.inserted ?? 0,
      updated: o?.updated ?? 0,
      deleted: o?.deleted ?? 0,
      unchanged: o?.unchanged ?? 0,
      invalid: done.invalid,
      reconciled: done.reconciled ?? 0,
      rejected: sink.counts.rejected,
      // The outcome travels as JSON (the job's output): keys in their lossless text form.
      rejectedRows: sink.rejected.slice(0, MAX_REJECTED_PER_PARTITION).map((r) => ({ ...r, key: jsonSafe(r.key) as RejectedRowRecord['key'] })),
      worker: `${hostname()}:${process.pid}`,
      ms: Date.now() - t0,
    };
  } finally {
    await ws?.close().catch(() => undefined);
    await dest?.close().catch(() => undefined);
    await source?.close().catch(() => undefined);
  }
}
