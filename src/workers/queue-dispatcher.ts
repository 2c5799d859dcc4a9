import type { DispatchOptions, PartitionDispatcher, PartitionJob, PartitionResult } from '../engine/partition-dispatch.js';
import { basename } from 'node:path';
import type { Pipeline } from '../config/load-pipeline.js';
import { CancelledError, ConfigError } from '../errors.js';
import { sleep } from '../engine/retry.js';
import { PartitionQueue, type JobState } from './partition-queue.js';
import { PartitionLocks, queueSchemaFor, requireStateUrl } from './partition-locks.js';

/** How often a run looks at its partitions' jobs while it waits. */
const POLL_MS = 500;

/**
 * The run's side of delivery by workers: the diff lock around the diff, then one pg-boss
 * job per partition, waited for until each has completed or failed after its last retry.
 */
export class QueueDispatcher implements PartitionDispatcher {
  private constructor(
    private readonly queue: PartitionQueue,
    private readonly locks: PartitionLocks,
  ) {}

  static async open(url: string, stateSchema: string): Promise<QueueDispatcher> {
    const locks = await PartitionLocks.connect(url, stateSchema);
    try {
      return new QueueDispatcher(await PartitionQueue.open(url, queueSchemaFor(stateSchema)), locks);
    } catch (e) {
      await locks.close();
      throw e;
    }
  }

  beginDiff(pipeline: string, diffId: number, runId: number): Promise<void> {
    return this.locks.beginDiff(pipeline, diffId, runId);
  }

  endDiff(pipeline: string): Promise<void> {
    return this.locks.endDiff(pipeline);
  }

  async deliver(jobs: PartitionJob[], o: DispatchOptions): Promise<PartitionResult[]> {
    const ids = await this.queue.enqueue(jobs, { expireInSeconds: o.expireInSeconds, retryLimit: o.retryLimit, retryDelaySeconds: o.retryDelaySeconds });
    const ended = new Map<string, JobState>();
    let reported = -1;
    while (ended.size < ids.length) {
      if (o.signal.aborted) {
        // Jobs not yet taken are withdrawn; one in a worker's hands finishes its partition (its delivery and advance are one unit).
        await this.queue.cancel(ids.filter((id) => !ended.has(id))).catch(() => undefined);
        throw new CancelledError('the run was cancelled while workers delivered its partitions');
      }
      for (const s of await this.queue.states(ids.filter((id) => !ended.has(id)))) {
        if (s.state === 'completed' || s.state === 'failed' || s.state === 'cancelled' || s.state === 'missing') ended.set(s.id, s);
      }
      if (ended.size !== reported) o.onProgress?.((reported = ended.size), ids.length);
      if (ended.size < ids.length) await sleep(POLL_MS, o.signal).catch(() => undefined);
    }
    return ids.map((id, i) => {
      const s = ended.get(id)!;
      const part = jobs[i].part;
      const attempts = s.retryCount + 1;
      if (s.state === 'completed' && s.output && s.output.message === undefined) return { part, outcome: s.output, attempts };
      const why = s.output?.message ?? (s.state === 'missing' ? 'its job disappeared from the queue' : `its job ended ${s.state}`);
      return { part, error: why, attempts };
    });
  }

  async close(): Promise<void> {
    await this.queue.close(false);
    await this.locks.close();
  }
}

/**
 * The dispatcher a run of `p` uses: one on the state database's queue when the pipeline
 * says `workers: true` or the caller asks (`run --workers`); none otherwise.
 */
export async function dispatcherFor(p: Pipeline, asked: boolean): Promise<QueueDispatcher | undefined> {
  if (!asked && !p.spec.workers) return undefined;
  const shown = basename(p.file);
  if (p.spec.diff !== 'warehouse') {
    throw new ConfigError(`${shown}: workers deliver the partitions of a warehouse diff; set diff: warehouse (the diff here is ${p.spec.diff})`);
  }
  return QueueDispatcher.open(requireStateUrl(p.stateUrl, `${shown}: delivery by workers`), p.stateSchema);
}
