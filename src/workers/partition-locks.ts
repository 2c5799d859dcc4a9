import pg from 'pg';
import { redact } from '../config/redact.js';
import { ConfigError, StateAccessError, TransientError } from '../errors.js';
import { connectStateDatabase, parseStateUrl } from '../state/state-database.js';

const q = pg.escapeIdentifier;

/**
 * The locks that keep workers and runs of one pipeline from stepping on each other, all in
 * the state database (session advisory locks: a process that dies loses its connection, and
 * Postgres frees its locks with it — nothing to expire, nothing left behind).
 *
 *   - `diff` lock (per pipeline): a run holds it exclusively while it computes a diff (which
 *     rebuilds the warehouse's pending table); a worker holds it shared while it delivers a
 *     partition. So a diff never replaces the pending rows a worker is reading or advancing.
 *   - `part` lock (per partition of a diff): one worker at a time delivers a partition, even
 *     when the queue handed it out again after its expiry while the first worker still runs.
 *   - `partition_diffs` (table, per pipeline): the diff whose partitions are current; a job
 *     of an older diff (its run died or was replaced) is skipped.
 *
 * One session per lock holder: advisory locks are re-entrant within a session, so two jobs
 * sharing one would not exclude each other.
 */
export class PartitionLocks {
  private constructor(
    private readonly client: pg.Client,
    private readonly schema: string,
  ) {}

  /** `url`: the state URL (its `?schema=` names the schema outflow owns, default outflow). */
  static async connect(url: string): Promise<PartitionLocks> {
    try {
      const { client, schema } = await connectStateDatabase(url);
      return new PartitionLocks(client, schema);
    } catch (e) {
      // A missing privilege is said as it is (what to grant); not reaching the database may pass.
      if (e instanceof StateAccessError) throw e;
      throw new TransientError(`cannot reach the state database for partition locks: ${redact((e as Error).message)}`, { cause: e });
    }
  }

  /**
   * The run's side: waits for workers still delivering partitions of an older diff, then
   * holds the diff lock while the new diff is computed (release it with `endDiff`).
   * Jobs of older diffs that have not started find they are stale and do nothing.
   */
  async beginDiff(pipeline: string, diffId: number, runId: number): Promise<void> {
    await this.client.query(
      `INSERT INTO ${q(this.schema)}.partition_diffs (pipeline, diff_id, run_id) VALUES ($1, $2, $3)
       ON CONFLICT (pipeline) DO UPDATE SET diff_id = EXCLUDED.diff_id, run_id = EXCLUDED.run_id, started_at = now()`,
      [pipeline, diffId, runId],
    );
    await this.client.query('SELECT pg_advisory_lock(hashtextextended($1, 0))', [diffKey(pipeline)]);
  }

  async endDiff(pipeline: string): Promise<void> {
    await this.client.query('SELECT pg_advisory_unlock(hashtextextended($1, 0))', [diffKey(pipeline)]);
  }

  /**
   * The worker's side: true when this session may deliver the partition — the diff is
   * current and no other worker holds the partition. Holds the locks until `close`.
   * Throws a TransientError when another worker has it (the queue retries the job later).
   */
  async claimPartition(pipeline: string, diffId: number, part: number): Promise<boolean> {
    await this.client.query('SELECT pg_advisory_lock_shared(hashtextextended($1, 0))', [diffKey(pipeline)]);
    const current = await this.client.query<{ diff_id: string }>(`SELECT diff_id::text AS diff_id FROM ${q(this.schema)}.partition_diffs WHERE pipeline = $1`, [pipeline]);
    if (current.rows[0]?.diff_id !== String(diffId)) return false;
    const got = await this.client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock(hashtextextended($1, 0)) AS ok', [`outflow:part:${pipeline}:${diffId}:${part}`]);
    if (!got.rows[0].ok) throw new TransientError(`partition ${part + 1} of ${pipeline} is being delivered by another worker`);
    return true;
  }

  async close(): Promise<void> {
    await this.client.end().catch(() => undefined);
  }
}

function diffKey(pipeline: string): string {
  return `outflow:diff:${pipeline}`;
}

/** Where the job queue lives: pg-boss's own schema beside the state schema (`<schema>_queue`), on a URL without outflow's `?schema=`. */
export function queuePlace(url: string): { connectionString: string; schema: string } {
  const { connection, schema } = parseStateUrl(url);
  return { connectionString: connection.connectionString!, schema: `${schema}_queue` };
}

export function requireStateUrl(stateUrl: string | undefined, what: string): string {
  if (!stateUrl) {
    throw new ConfigError(`${what} needs a shared state database: set state.url in the pipeline, OUTFLOW_STATE_URL, or --state-url`);
  }
  return stateUrl;
}
