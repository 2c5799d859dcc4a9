import { statSync } from 'node:fs';
import { hostname } from 'node:os';
import { loadPipeline, type Pipeline } from '../config/load-pipeline.js';
import { redact } from '../config/redact.js';
import { ConfigError } from '../errors.js';
import { loadCatalog } from '../server/pipeline-catalog.js';
import { runPartitionJob } from '../engine/run-partition-job.js';
import type { PartitionJob, PartitionOutcome } from '../engine/partition-dispatch.js';
import { PartitionQueue } from './partition-queue.js';
import { PartitionLocks } from './partition-locks.js';

export interface WorkerOptions {
  /** Pipeline files and folders of them: where the worker finds a job's pipeline by name. */
  paths: string[];
  /** The state URL (its `?schema=` names the schema outflow owns). */
  stateUrl: string;
  /** Partitions delivered at once by this process. */
  concurrency: number;
  stateDir?: string;
  /** One line per event (took, delivered, failed), for the terminal or a log. */
  log: (event: string, fields: Record<string, unknown>) => void;
  superviseEverySeconds?: number;
}

export interface RunningWorker {
  /** Stops taking jobs; a partition in hand is finished first. */
  stop(): Promise<void>;
}

/**
 * `outflow worker`: takes partition jobs from the queue in the state database and delivers
 * them, until stopped. Any number of workers on any machines that reach the state
 * database, the source and the destination may run; each partition is delivered by one of
 * them at a time (see partition-locks.ts), and one whose worker died is handed to another
 * after its expiry (timeouts.partition) by the queue.
 */
export async function startWorker(o: WorkerOptions): Promise<RunningWorker> {
  const me = `${hostname()}:${process.pid}`;
  const queue = await PartitionQueue.open(o.stateUrl, {
    superviseEverySeconds: o.superviseEverySeconds,
    onError: (e) => o.log('queue error', { error: redact(e.message) }),
  });
  const stopping = new AbortController();
  await queue.work(o.concurrency, async (job) => {
    const d = job.data;
    const t0 = Date.now();
    o.log('took', { pipeline: d.pipeline, run: d.runId, partition: `${d.part + 1}/${d.partitions}`, job: job.id });
    const locks = await PartitionLocks.connect(o.stateUrl);
    try {
      if (!(await locks.claimPartition(d.pipeline, d.diffId, d.part))) {
        o.log('skipped', { pipeline: d.pipeline, run: d.runId, partition: `${d.part + 1}/${d.partitions}`, why: 'a newer run replaced this diff' });
        return superseded(d, me);
      }
      const out = await runPartitionJob(findPipeline(o, d), d, stopping.signal);
      o.log('delivered', {
        pipeline: d.pipeline,
        run: d.runId,
        partition: `${d.part + 1}/${d.partitions}`,
        sent: out.sent,
        reconciled: out.reconciled,
        rejected: out.rejected,
        ms: Date.now() - t0,
      });
      return out;
    } catch (e) {
      o.log('failed', { pipeline: d.pipeline, run: d.runId, partition: `${d.part + 1}/${d.partitions}`, error: redact((e as Error).message) });
      // pg-boss keeps the thrown error as the job's output: the run shows its message.
      throw new Error(redact((e as Error).message));
    } finally {
      await locks.close();
    }
  });
  o.log('ready', { worker: me, concurrency: o.concurrency });
  return {
    stop: async () => {
      await queue.close(true);
      stopping.abort();
    },
  };
}

/** The job's pipeline from the worker's own files (so secrets come from the worker's environment). */
function findPipeline(o: WorkerOptions, job: PartitionJob): Pipeline {
  for (const path of o.paths) {
    if (statSync(path).isDirectory()) {
      const entry = loadCatalog(path, { stateDir: o.stateDir, stateUrl: o.stateUrl }).find((e) => e.name === job.pipeline);
      if (entry?.pipeline) return entry.pipeline;
      if (entry?.error) throw new ConfigError(entry.error);
    } else {
      const p = loadPipeline(path, { stateDir: o.stateDir, stateUrl: o.stateUrl });
      if (p.name === job.pipeline) return p;
    }
  }
  throw new ConfigError(`this worker has no pipeline named ${job.pipeline} (it looks in ${o.paths.join(', ')}); start it with the folder that holds ${job.file.split('/').pop()}`);
}

function superseded(d: PartitionJob, worker: string): PartitionOutcome {
  return { part: d.part, superseded: true, sent: 0, inserted: 0, updated: 0, deleted: 0, unchanged: 0, invalid: 0, reconciled: 0, rejected: 0, rejectedRows: [], worker, ms: 0 };
}
