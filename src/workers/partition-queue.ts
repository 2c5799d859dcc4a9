import PgBoss from 'pg-boss';
import { redact } from '../config/redact.js';
import { OutflowError } from '../errors.js';
import type { PartitionJob, PartitionOutcome } from '../engine/partition-dispatch.js';
import { queuePlace } from './partition-locks.js';

/** The pg-boss queue every `outflow worker` takes partitions from. */
export const PARTITION_QUEUE = 'outflow-partitions';

/**
 * The job queue partitions travel on: pg-boss 10 in the state database (its own schema,
 * `<state schema>_queue`). pg-boss carries the guarantees outflow relies on: a job is
 * fetched by one worker (SELECT … FOR UPDATE SKIP LOCKED), a failed job is retried with
 * backoff up to its retry limit, and an active job whose worker went silent past its expiry
 * is failed by the queue's supervisor and retried by another worker. Why pg-boss and not
 * graphile-worker: docs/scale.md.
 */
export class PartitionQueue {
  private constructor(readonly boss: PgBoss) {}

  /**
   * `superviseEverySeconds` is how often this process looks for expired jobs (pg-boss's
   * maintenance; one process at a time does it): it bounds how late a dead worker's
   * partition is noticed after its expiry. `onError` hears pg-boss's background failures
   * (a connection lost while polling: it goes on polling).
   */
  static async open(url: string, opts: { superviseEverySeconds?: number; onError?: (e: Error) => void } = {}): Promise<PartitionQueue> {
    const { connectionString, schema } = queuePlace(url);
    const boss = new PgBoss({
      connectionString,
      schema,
      application_name: 'outflow',
      max: 4,
      supervise: true,
      maintenanceIntervalSeconds: opts.superviseEverySeconds ?? 10,
      // Nothing here is scheduled by cron; pg-boss's clock checks would only add queries.
      schedule: false,
    });
    // Unheard, an 'error' event would end the process.
    boss.on('error', (e: Error) => opts.onError?.(e));
    try {
      await boss.start();
      await boss.createQueue(PARTITION_QUEUE);
    } catch (e) {
      await boss.stop({ graceful: false, wait: false }).catch(() => undefined);
      throw new OutflowError(`cannot open the job queue in the state database (schema ${schema}): ${redact((e as Error).message)}`, { cause: e });
    }
    return new PartitionQueue(boss);
  }

  /** Enqueues one job per partition; returns their ids in order. */
  async enqueue(jobs: PartitionJob[], opts: { expireInSeconds: number; retryLimit: number; retryDelaySeconds: number }): Promise<string[]> {
    const ids: string[] = [];
    for (const job of jobs) {
      const id = await this.boss.send(PARTITION_QUEUE, job, {
        expireInSeconds: opts.expireInSeconds,
        retryLimit: opts.retryLimit,
        retryDelay: opts.retryDelaySeconds,
        retryBackoff: true,
        // One job per partition of a diff, however often it is enqueued.
        singletonKey: `${job.pipeline}:${job.diffId}:${job.part}`,
      });
      if (!id) throw new OutflowError(`the job queue refused partition ${job.part + 1} of ${job.pipeline} (a job for it already exists)`);
      ids.push(id);
    }
    return ids;
  }

  /** Where each job stands: its state, and its output once it completed or failed for good. */
  async states(ids: string[]): Promise<JobState[]> {
    const out: JobState[] = [];
    for (const id of ids) {
      const job = await this.boss.getJobById<PartitionJob>(PARTITION_QUEUE, id, { includeArchive: true });
      out.push({ id, state: job?.state ?? 'missing', retryCount: job?.retryCount ?? 0, output: (job?.output ?? undefined) as JobOutput | undefined });
    }
    return out;
  }

  async cancel(ids: string[]): Promise<void> {
    if (ids.length) await this.boss.cancel(PARTITION_QUEUE, ids);
  }

  /** Takes jobs one at a time per `concurrency` slot until stopped; a handler's throw fails the job (retried by the queue). */
  async work(concurrency: number, handler: (job: PgBoss.Job<PartitionJob>) => Promise<PartitionOutcome>, pollingIntervalSeconds = 0.5): Promise<void> {
    for (let i = 0; i < concurrency; i++) {
      await this.boss.work<PartitionJob>(PARTITION_QUEUE, { batchSize: 1, pollingIntervalSeconds }, async ([job]) => handler(job));
    }
  }

  async close(graceful = true): Promise<void> {
    // graceful waits for jobs in hand to finish (a worker told to stop finishes its partition).
    await this.boss.stop({ graceful, wait: true, timeout: graceful ? 30 * 60_000 : 1_000 }).catch(() => undefined);
  }
}

/** A job's output: the handler's return value on completion, or the error pg-boss serialised when it failed. */
export type JobOutput = (PartitionOutcome & { message?: undefined }) | { message: string; stack?: string };

export interface JobState {
  id: string;
  state: string;
  retryCount: number;
  output?: JobOutput;
}
