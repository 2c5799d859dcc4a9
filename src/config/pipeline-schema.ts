import { z } from 'zod';
import { sourceConfig } from '../sources/source-configs.js';
import { destinationConfig } from '../destinations/destination-configs.js';
import { duration } from './duration.js';

export { duration, parseDuration } from './duration.js';

export const SYNC_MODES = ['insert', 'insert_new', 'upsert', 'update', 'mirror', 'replace'] as const;
export type SyncMode = (typeof SYNC_MODES)[number];

const identifier = z.string().min(1);

const modelConfig = z.union([
  z.strictObject({ table: z.string().min(1) }),
  z.strictObject({ query: z.string().min(1) }),
]);

const action = z.strictObject({
  name: z.string().min(1),
  sql: z.string().min(1),
  /** Where the SQL runs. */
  on: z.enum(['destination', 'source']).default('destination'),
});

const actions = z
  .strictObject({
    before: z.array(action).default([]),
    after: z.array(action).default([]),
    on_success: z.array(action).default([]),
    on_failure: z.array(action).default([]),
  })
  .default({ before: [], after: [], on_success: [], on_failure: [] });

const retry = z
  .strictObject({
    attempts: z.number().int().min(1).max(20).default(3),
    initial_delay: duration.default(500),
    max_delay: duration.default(10_000),
    /** Share of each delay that is random (0 = fixed schedule, 1 = anywhere from 0 to the delay). */
    jitter: z.number().min(0).max(1).default(0.5),
  })
  .default({ attempts: 3, initial_delay: 500, max_delay: 10_000, jitter: 0.5 });

const timeouts = z
  .strictObject({
    connect: duration.default(10_000),
    statement: duration.optional(),
    run: duration.optional(),
    /**
     * A partition handed to `outflow worker` processes that is not finished in this long is
     * taken to be lost (its worker died) and given to another worker: the job queue's expiry.
     */
    partition: duration.default(15 * 60_000),
  })
  .default({ connect: 10_000, partition: 15 * 60_000 });

const alert = z.strictObject({
  on: z.enum(['failure', 'partial', 'success', 'rejected_share', 'row_count_change']),
  webhook: z.string().url(),
  /** For rejected_share: share of rows rejected; for row_count_change: relative change. */
  threshold: z.number().min(0).optional(),
});

/** The row-level log of what each run changed (kept in the state folder's history). */
const changeLog = z
  .strictObject({
    /** Keep the change logs of this many newest runs of the pipeline. */
    keep_runs: z.number().int().min(0).default(50),
    /** Also drop change logs of runs older than this many days. */
    keep_days: z.number().int().min(0).optional(),
    /** Most entries kept per run: a run changing more keeps its first ones (its counts stay exact). */
    max_rows_per_run: z.number().int().min(0).max(10_000_000).default(100_000),
  })
  .default({ keep_runs: 50, max_rows_per_run: 100_000 });

export const pipelineSchema = z.strictObject({
  /** Defaults to the file name without extension. */
  name: z
    .string()
    .regex(/^[A-Za-z0-9_.-]+$/, 'letters, digits, _, . and - only')
    .optional(),
  description: z.string().optional(),
  source: sourceConfig,
  model: modelConfig,
  destination: destinationConfig,
  primary_key: z.union([identifier, z.array(identifier).min(1)]).transform((k) => (Array.isArray(k) ? k : [k])),
  /** model column → destination column; when absent every model column keeps its name. */
  mapping: z.record(z.string(), identifier).optional(),
  mode: z.enum(SYNC_MODES).default('upsert'),
  actions,
  incremental: z.strictObject({ cursor: identifier }).optional(),
  /** mirror/replace refuse to delete more than this share of the target (0..1). */
  max_delete_ratio: z.number().min(0).max(1).default(0.5),
  batch_size: z.number().int().min(1).max(1_000_000).default(50_000),
  retry,
  timeouts,
  schedule: z.string().optional(),
  every: duration.optional(),
  timezone: z.string().optional(),
  alerts: z.array(alert).default([]),
  /**
   * Where outflow keeps its own state: `dir` (run history, locks and snapshots in files; the
   * default, `.outflow` beside where it runs) or `url` (a Postgres database several
   * processes and machines share: run history, locks, rejected rows, and the job queue
   * `outflow worker` processes take partitions from). OUTFLOW_STATE_URL sets `url` too.
   */
  state: z
    .strictObject({
      dir: z.string().optional(),
      url: z.string().optional(),
    })
    .optional(),
  /**
   * diff: warehouse — deliver partitions through `outflow worker` processes that share the
   * state database (state.url), instead of in the run's own process. `run --workers` does the same for one run.
   */
  workers: z.boolean().default(false),
  change_log: changeLog,
  /**
   * Where the diff runs: `local` (DuckDB in this process, the snapshot in the state folder)
   * or `warehouse` (the source's own SQL; the snapshot lives in the warehouse, in
   * `state_schema`, and only changed rows leave it). See docs/scale.md.
   */
  diff: z.enum(['local', 'warehouse']).default('local'),
  /** diff: warehouse — the schema (BigQuery: dataset) outflow owns in the warehouse; default outflow_state. */
  state_schema: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]{0,62}$/, 'a plain schema name: letters, digits and _, not starting with a digit')
    .optional(),
  /** diff: warehouse — changed rows are split into this many partitions by a hash of the key, each delivered and recorded on its own. */
  partitions: z.number().int().min(1).max(256).optional(),
});

export type PipelineInput = z.input<typeof pipelineSchema>;
export type PipelineSpec = z.output<typeof pipelineSchema>;
