import type { DispatchOptions, PartitionDispatcher, PartitionJob, PartitionResult } from '../engine/partition-dispatch.js';
import { basename } from 'node:path';
import type { Pipeline } from '../config/load-pipeline.js';
import { CancelledError, ConfigError } from '../errors.js';
import { sleep } from '../engine/retry.js';
import { PartitionQueue, type JobState } from './partition-queue.js';
import { PartitionLocks, requireStateUrl } from './partition-locks.js';

/** How often a run looks at its partitions' jobs while it waits. */
const POLL_MS = 500;

/**
 * The run's side of delivery by workers: the diff lock around the diff, then one pg-boss
 * job per partition, waited for until each has completed or failed after its last retry.
 * Connects on first use (a run that fails before its diff never touches the queue), so it
 * can be handed to runPipeline without an await.
 */
export class QueueDispatcher implements PartitionDispatcher {
  private opened?: Promise<{ queue: PartitionQueue; locks: PartitionLocks }>;

  constructor(private readonly url: string) {}

  private open(): Promise<{ queue: PartitionQueue; locks: PartitionLocks }> {
    this.opened ??= (async () => {
      const locks = await PartitionLocks.connect(this.url);
      try {
        return { queue: await PartitionQueue.open(this.url), locks };
      } catch (e) {
        await locks.close();
        throw e;
      }
    })();
    return this.opened;
  }

  async beginDiff(pipeline: string, diffId: number, runId: number): Promise<void> {
    await (await this.open()).locks.beginDiff(pipeline, diffId, runId);
  }

  async endDiff(pipeline: string): Promise<void> {
    await (await this.open()).locks.endDiff(pipeline);
  }

  async deliver(jobs: PartitionJob[], o: DispatchOptions): Promise<PartitionResult[]> {
    const { queue } = await this.open();
    const ids = await queue.enqueue(jobs, { expireInSeconds: o.expireInSeconds, retryLimit: o.retryLimit, retryDelaySeconds: o.retryDelaySeconds });
    const ended = new Map<string, JobState>();
    let reported = -1;
    while (ended.size < ids.length) {
      if (o.signal.aborted) {
        // Jobs not yet taken are withdrawn; one in a worker's hands finishes its partition (its delivery and advance are one unit).
        await queue.cancel(ids.filter((id) => !ended.has(id))).catch(() => undefined);
        throw new CancelledError('the run was cancelled while workers delivered its partitions');
      }
      for (const s of await queue.states(ids.filter((id) => !ended.has(id)))) {
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
    const opened = await this.opened?.catch(() => undefined);
    await opened?.queue.close(false);
    await opened?.locks.close();
  }
}

/**
 * The dispatcher a run of `p` uses: one on the state database's queue when the pipeline
 * says `workers: true` or the caller asks (`run --workers`); none otherwise.
 */
export function dispatcherFor(p: Pipeline, asked: boolean): QueueDispatcher | undefined {
  if (!asked && !p.spec.workers) return undefined;
  const shown = basename(p.file);
  if (p.spec.diff !== 'warehouse') {
    throw new ConfigError(`${shown}: workers deliver the partitions of a warehouse diff; set diff: warehouse (the diff here is ${p.spec.diff})`);
  }
  return new QueueDispatcher(requireStateUrl(p.stateUrl, `${shown}: delivery by workers`));
}
