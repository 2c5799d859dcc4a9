import type { RejectedRowRecord } from '../state/run-result.js';

/**
 * One partition of one warehouse diff, as a job. A worker finds the pipeline by name among
 * its own pipeline files (the same git checkout on every machine; secrets from its own
 * environment) and checks it maps the model the way the run did (`fingerprint`).
 */
export interface PartitionJob {
  pipeline: string;
  /** The YAML file as the enqueuing process saw it, for messages. */
  file: string;
  runId: number;
  /** The diff this partition belongs to (see partitionDelivery): a job of an older diff is skipped. */
  diffId: number;
  part: number;
  partitions: number;
  isFull: boolean;
  fingerprint: string;
  allowMassDelete: boolean;
  /** Rows the warehouse snapshot held before the diff (the record destinations' mass-delete total). */
  snapshotRows: number;
}

/** What a worker reports back for its partition (the job's output). */
export interface PartitionOutcome {
  part: number;
  /** The job belonged to a diff that a newer run replaced: nothing was done. */
  superseded?: boolean;
  sent: number;
  inserted: number;
  updated: number;
  deleted: number;
  unchanged: number;
  invalid: number;
  /** Rows an earlier attempt had delivered (a worker that died after its COMMIT): recorded, not sent again. */
  reconciled: number;
  rejected: number;
  /** The first refused rows (keys and reasons), at most MAX_REJECTED_PER_PARTITION. */
  rejectedRows: RejectedRowRecord[];
  /** host:pid of the worker, for the run's stages. */
  worker: string;
  ms: number;
}

/** Refused rows a job's output carries (its count is always exact): job outputs stay small. */
export const MAX_REJECTED_PER_PARTITION = 1_000;

/**
 * How a run hands its partitions to other processes (`run --workers`, serve): given to
 * runPipeline by the caller, so the engine knows no queue. src/workers/ implements it on
 * pg-boss in the state database.
 */
export interface PartitionDispatcher {
  /** Before the diff: records it as the pipeline's current one and waits for workers still on an older one. */
  beginDiff(pipeline: string, diffId: number, runId: number): Promise<void>;
  /** After the diff: workers may start. */
  endDiff(pipeline: string): Promise<void>;
  /** Enqueues the partitions and waits until each completed or failed for good, in order. */
  deliver(jobs: PartitionJob[], opts: DispatchOptions): Promise<PartitionResult[]>;
  close(): Promise<void>;
}

export interface DispatchOptions {
  /** A partition job not finished in this long is taken to be lost and handed out again (timeouts.partition). */
  expireInSeconds: number;
  /** How often a failed partition is tried again (retry.attempts − 1, at least 1: a killed worker's partition must be). */
  retryLimit: number;
  retryDelaySeconds: number;
  signal: AbortSignal;
  onProgress?: (done: number, total: number) => void;
}

/** A partition's end: its outcome, or why it failed after its last attempt. */
export type PartitionResult = { part: number; outcome: PartitionOutcome; attempts: number } | { part: number; error: string; attempts: number };
