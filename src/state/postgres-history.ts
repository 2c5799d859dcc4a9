import { hostname } from 'node:os';
import pg from 'pg';
import type { RejectedRowRecord, RowCounts, RunResult, RunStatus, StageTiming } from './run-result.js';
import type { ChangeEntry, ChangeOperation } from '../diff/change-keys.js';
import { redact, registerUrlSecrets } from '../config/redact.js';
import { ConnectionError, LockedError, StateAccessError } from '../errors.js';
import {
  changeRecord,
  diedMessage,
  finishedRunColumns,
  lockedMessage,
  rejectedRecord,
  runRecord,
  storedChange,
  storedRejected,
  TOTALLED_COUNTS,
  type ChangeRecord,
  type History,
  type LockHolder,
  type RejectedGroup,
  type RunRecord,
  type RunRow,
  type RunTotals,
  type StartedRun,
} from './history.js';
import { cannotConnect, ensureStateTables, parseStateUrl } from './state-database.js';

/** eachRejected reads this many rows per query. */
const PAGE = 1000;

/**
 * Run history, locks, rejected rows and change logs in a Postgres database that several
 * processes and machines share (`state.url`). The tables live in one schema outflow owns
 * (`outflow` by default). A pipeline's run lock is a session-level advisory lock held on a
 * connection of its own for the run's life: when the process dies its connection drops and
 * Postgres frees the lock, whatever machine it ran on. The `locks` table only says who holds
 * it (pid, host, run, since) for messages and the UI.
 */
export class PostgresHistory implements History {
  /** The connection holding each pipeline's advisory lock, while this process runs it. */
  private readonly lockClients = new Map<string, pg.Client>();
  private readonly t: Record<'runs' | 'rejected' | 'changes' | 'locks', string>;

  private constructor(
    private readonly pool: pg.Pool,
    private readonly connection: pg.ClientConfig,
    private readonly schema: string,
  ) {
    const q = (table: string) => `${pg.escapeIdentifier(schema)}.${pg.escapeIdentifier(table)}`;
    this.t = { runs: q('runs'), rejected: q('rejected_rows'), changes: q('changes'), locks: q('locks') };
  }

  /** `url` is a postgres:// URL; `?schema=name` picks the schema (default outflow), which is created when missing. */
  static async open(url: string): Promise<PostgresHistory> {
    registerUrlSecrets(url);
    const { connection, schema } = parseStateUrl(url);
    const pool = new pg.Pool({ ...connection, max: 4 });
    // An idle connection the server drops must not crash the process; the next query reconnects.
    pool.on('error', () => undefined);
    const history = new PostgresHistory(pool, connection, schema);
    try {
      await history.createTables();
    } catch (e) {
      await pool.end().catch(() => undefined);
      throw e;
    }
    return history;
  }

  private async createTables(): Promise<void> {
    const client = await this.connect(this.pool);
    try {
      await ensureStateTables(client, this.schema, this.connection);
    } finally {
      client.release();
    }
  }

  private async connect(pool: pg.Pool): Promise<pg.PoolClient> {
    try {
      return await pool.connect();
    } catch (e) {
      throw cannotConnect(this.connection, e);
    }
  }

  private async query<R extends pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<R[]> {
    return (await this.pool.query<R>(sql, params)).rows;
  }

  private async transaction<T>(work: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.connect(this.pool);
    try {
      await client.query('BEGIN');
      const out = await work(client);
      await client.query('COMMIT');
      return out;
    } catch (e) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw e;
    } finally {
      client.release();
    }
  }

  /** The advisory-lock key of a pipeline: per schema, so two deployments sharing a database do not block each other. */
  private lockKey(pipeline: string): string {
    return `outflow:${this.schema}:${pipeline}`;
  }

  async acquireLock(pipeline: string): Promise<void> {
    if (this.lockClients.has(pipeline)) throw new LockedError(`pipeline ${pipeline} is already running in this process; wait for it to finish`);
    // Not from the pool: this connection lives as long as the run, and its end frees the lock.
    // Keepalives: the connection idles for the whole run, and a NAT or firewall that drops an
    // idle connection would free the lock while the run goes on.
    const client = new pg.Client({ ...this.connection, keepAlive: true, keepAliveInitialDelayMillis: 30_000 });
    client.on('error', () => undefined);
    try {
      await client.connect();
    } catch (e) {
      throw cannotConnect(this.connection, e);
    }
    try {
      const [{ locked }] = (await client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock(hashtextextended($1, 0)) AS locked', [this.lockKey(pipeline)])).rows;
      if (!locked) {
        const holder = await this.holderRow(pipeline);
        throw new LockedError(holder ? lockedMessage(pipeline, holder) : `pipeline ${pipeline} is already running in another process; wait for it to finish`);
      }
      // The advisory lock is ours, so a row still in `locks` belongs to a process that died.
      await client.query('BEGIN');
      const [stale] = (await client.query<{ pid: number; run_id: string | null }>(`SELECT pid, run_id FROM ${this.t.locks} WHERE pipeline = $1 FOR UPDATE`, [pipeline])).rows;
      if (stale?.run_id) {
        await client.query(`UPDATE ${this.t.runs} SET status = 'failed', error = $1, finished_at = now() WHERE id = $2 AND status = 'running'`, [
          diedMessage(stale.pid),
          stale.run_id,
        ]);
      }
      await client.query(
        `INSERT INTO ${this.t.locks} (pipeline, run_id, pid, host, acquired_at) VALUES ($1, NULL, $2, $3, now())
         ON CONFLICT (pipeline) DO UPDATE SET run_id = NULL, pid = excluded.pid, host = excluded.host, acquired_at = excluded.acquired_at`,
        [pipeline, process.pid, hostname()],
      );
      await client.query('COMMIT');
      this.lockClients.set(pipeline, client);
    } catch (e) {
      // Ending the session frees the advisory lock if it was taken.
      await client.end().catch(() => undefined);
      throw e;
    }
  }

  async releaseLock(pipeline: string): Promise<void> {
    const client = this.lockClients.get(pipeline);
    if (!client) return;
    this.lockClients.delete(pipeline);
    try {
      await client.query(`DELETE FROM ${this.t.locks} WHERE pipeline = $1 AND pid = $2 AND host = $3`, [pipeline, process.pid, hostname()]);
      await client.query('SELECT pg_advisory_unlock(hashtextextended($1, 0))', [this.lockKey(pipeline)]);
    } catch {
      // The lock's session is gone (the connection dropped), and the lock with it. A `locks`
      // row left behind is cleared by the next run, which finds this run finished, not running.
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  async isLocked(pipeline: string): Promise<boolean> {
    return (await this.lockHolder(pipeline)) !== undefined;
  }

  async lockHolder(pipeline: string): Promise<LockHolder | undefined> {
    return this.holderRow(pipeline, true);
  }

  /**
   * The `locks` row of a pipeline; with `isHeldOnly`, only while some session holds the
   * advisory lock (read from pg_locks, without trying to take it: a try would briefly hold it).
   */
  private async holderRow(pipeline: string, isHeldOnly = false): Promise<LockHolder | undefined> {
    const [row] = await this.query<{ pid: number; host: string; run_id: string | null; acquired_at: Date; held: boolean }>(
      `SELECT l.pid, l.host, l.run_id, l.acquired_at,
              EXISTS (SELECT 1 FROM pg_locks k
                      WHERE k.locktype = 'advisory' AND k.granted AND k.objsubid = 1
                        AND k.database = (SELECT oid FROM pg_database WHERE datname = current_database())
                        AND k.classid::bigint = ((h.key >> 32) & 4294967295) AND k.objid::bigint = (h.key & 4294967295)) AS held
       FROM ${this.t.locks} l, (SELECT hashtextextended($2, 0) AS key) h
       WHERE l.pipeline = $1`,
      [pipeline, this.lockKey(pipeline)],
    );
    if (!row || (isHeldOnly && !row.held)) return undefined;
    return { pid: row.pid, host: row.host, runId: row.run_id === null ? null : Number(row.run_id), since: row.acquired_at.toISOString() };
  }

  async startRun(pipeline: string, mode: string, trigger: string, status: RunStatus = 'running'): Promise<StartedRun> {
    return this.transaction(async (c) => {
      // Numbers count per pipeline: concurrent starts of one pipeline (a skipped run beside a running one) take turns.
      await c.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`${this.lockKey(pipeline)}:number`]);
      const [r] = (
        await c.query<{ id: string; number: number; started_at: Date }>(
          `INSERT INTO ${this.t.runs} (pipeline, number, status, trigger, mode, started_at, counts, stages, pid, host)
           VALUES ($1, (SELECT coalesce(max(number), 0) + 1 FROM ${this.t.runs} WHERE pipeline = $1), $2, $3, $4, now(), '{}', '[]', $5, $6)
           RETURNING id, number, started_at`,
          [pipeline, status, trigger, mode, process.pid, hostname()],
        )
      ).rows;
      if (status === 'running') await c.query(`UPDATE ${this.t.locks} SET run_id = $1 WHERE pipeline = $2 AND pid = $3 AND host = $4`, [r.id, pipeline, process.pid, hostname()]);
      return { id: Number(r.id), number: r.number, startedAt: r.started_at.toISOString() };
    });
  }

  async updateRun(id: number, counts: RowCounts, stages: StageTiming[]): Promise<void> {
    await this.query(`UPDATE ${this.t.runs} SET counts = $1, stages = $2 WHERE id = $3`, [JSON.stringify(counts), JSON.stringify(stages), id]);
  }

  async finishRun(result: RunResult): Promise<void> {
    await this.transaction(async (c) => {
      const columns = finishedRunColumns(result);
      await c.query(`UPDATE ${this.t.runs} SET ${columns.map(([col], i) => `${col} = $${i + 1}`).join(', ')} WHERE id = $${columns.length + 1}`, [
        ...columns.map(([, v]) => v),
        result.runId,
      ]);
      const rows = result.rejected.map(storedRejected);
      if (rows.length === 0) return;
      // One statement for the batch: arrays in, rows out, in order (ids keep the order).
      await c.query(
        `INSERT INTO ${this.t.rejected} (run_id, pipeline, key, column_name, reason)
         SELECT $1, $2, r.key, r.column_name, r.reason FROM unnest($3::text[], $4::text[], $5::text[]) WITH ORDINALITY AS r(key, column_name, reason, n) ORDER BY r.n`,
        [result.runId, result.pipeline, rows.map((r) => r.key), rows.map((r) => r.column), rows.map((r) => r.reason)],
      );
    });
  }

  async listRuns(pipeline: string | undefined, limit = 20, offset = 0): Promise<RunRecord[]> {
    const rows = pipeline
      ? await this.query<RunRow>(`SELECT * FROM ${this.t.runs} WHERE pipeline = $1 ORDER BY id DESC LIMIT $2 OFFSET $3`, [pipeline, limit, offset])
      : await this.query<RunRow>(`SELECT * FROM ${this.t.runs} ORDER BY id DESC LIMIT $1 OFFSET $2`, [limit, offset]);
    return rows.map(runRecord);
  }

  async countRuns(pipeline?: string): Promise<number> {
    const [r] = pipeline
      ? await this.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${this.t.runs} WHERE pipeline = $1`, [pipeline])
      : await this.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${this.t.runs}`);
    return r.n;
  }

  async getRun(id: number): Promise<RunRecord | undefined> {
    const [row] = await this.query<RunRow>(`SELECT * FROM ${this.t.runs} WHERE id = $1`, [id]);
    return row ? runRecord(row) : undefined;
  }

  async getRunByNumber(pipeline: string, number: number): Promise<RunRecord | undefined> {
    const [row] = await this.query<RunRow>(`SELECT * FROM ${this.t.runs} WHERE pipeline = $1 AND number = $2`, [pipeline, number]);
    return row ? runRecord(row) : undefined;
  }

  async rejectedRows(runId: number, limit = 100, offset = 0): Promise<RejectedRowRecord[]> {
    const rows = await this.query<RejectedRow>(`SELECT key, column_name, reason FROM ${this.t.rejected} WHERE run_id = $1 ORDER BY id LIMIT $2 OFFSET $3`, [runId, limit, offset]);
    return rows.map(rejectedRecord);
  }

  async countRejected(runId: number): Promise<number> {
    return (await this.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${this.t.rejected} WHERE run_id = $1`, [runId]))[0].n;
  }

  async rejectedGroups(runId: number, limit = 100): Promise<RejectedGroup[]> {
    return this.query<RejectedGroup>(
      `SELECT column_name AS "column", reason, count(*)::int AS count FROM ${this.t.rejected} WHERE run_id = $1
       GROUP BY column_name, reason ORDER BY count DESC, reason COLLATE "C" LIMIT $2`,
      [runId, limit],
    );
  }

  async searchRejected(runId: number, text: string, limit: number, offset: number): Promise<{ rows: RejectedRowRecord[]; total: number }> {
    // strpos, not LIKE: the text is matched as typed, % and _ included.
    const where = `run_id = $1 AND (strpos(lower(key), lower($2)) > 0 OR strpos(lower(coalesce(column_name, '')), lower($2)) > 0 OR strpos(lower(reason), lower($2)) > 0)`;
    const rows = await this.query<RejectedRow>(`SELECT key, column_name, reason FROM ${this.t.rejected} WHERE ${where} ORDER BY id LIMIT $3 OFFSET $4`, [runId, text, limit, offset]);
    const [{ n }] = await this.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${this.t.rejected} WHERE ${where}`, [runId, text]);
    return { rows: rows.map(rejectedRecord), total: n };
  }

  async *eachRejected(runId: number): AsyncGenerator<RejectedRowRecord> {
    // Keyset pages: no connection is held between pages while the consumer is slow.
    for (let after = '0'; ; ) {
      const page = await this.query<RejectedRow & { id: string }>(
        `SELECT id, key, column_name, reason FROM ${this.t.rejected} WHERE run_id = $1 AND id > $2 ORDER BY id LIMIT ${PAGE}`,
        [runId, after],
      );
      for (const r of page) yield rejectedRecord(r);
      if (page.length < PAGE) return;
      after = page[page.length - 1].id;
    }
  }

  async recordChanges(runId: number, entries: ChangeEntry[]): Promise<void> {
    if (entries.length === 0) return;
    const rows = entries.map(storedChange);
    await this.query(
      `INSERT INTO ${this.t.changes} (run_id, op, key, column_name, reason)
       SELECT $1, r.op, r.key, r.column_name, r.reason FROM unnest($2::text[], $3::text[], $4::text[], $5::text[]) WITH ORDINALITY AS r(op, key, column_name, reason, n) ORDER BY r.n`,
      [runId, rows.map((r) => r.op), rows.map((r) => r.key), rows.map((r) => r.column), rows.map((r) => r.reason)],
    );
  }

  async clearChanges(runId: number): Promise<void> {
    await this.query(`DELETE FROM ${this.t.changes} WHERE run_id = $1`, [runId]);
  }

  async changes(runId: number, limit = 100, offset = 0): Promise<ChangeRecord[]> {
    const rows = await this.query<{ op: ChangeOperation; key: string; column_name: string | null; reason: string | null }>(
      `SELECT op, key, column_name, reason FROM ${this.t.changes} WHERE run_id = $1 ORDER BY id LIMIT $2 OFFSET $3`,
      [runId, limit, offset],
    );
    return rows.map(changeRecord);
  }

  async countChanges(runId: number): Promise<Partial<Record<ChangeOperation, number>>> {
    const rows = await this.query<{ op: ChangeOperation; n: number }>(`SELECT op, count(*)::int AS n FROM ${this.t.changes} WHERE run_id = $1 GROUP BY op`, [runId]);
    return Object.fromEntries(rows.map((r) => [r.op, r.n]));
  }

  async pruneChanges(pipeline: string, retention: { keepRuns?: number; keepDays?: number }): Promise<void> {
    if (retention.keepRuns !== undefined) {
      await this.query(
        `DELETE FROM ${this.t.changes} WHERE run_id IN (SELECT id FROM ${this.t.runs} WHERE pipeline = $1 ORDER BY id DESC OFFSET $2)`,
        [pipeline, retention.keepRuns],
      );
    }
    if (retention.keepDays !== undefined) {
      const cutoff = new Date(Date.now() - retention.keepDays * 86_400_000).toISOString();
      await this.query(`DELETE FROM ${this.t.changes} WHERE run_id IN (SELECT id FROM ${this.t.runs} WHERE pipeline = $1 AND started_at < $2)`, [pipeline, cutoff]);
    }
  }

  async runTotals(pipeline: string): Promise<RunTotals[]> {
    // float8: pg returns bigint and numeric as strings; row counts stay far below 2^53.
    const sums = TOTALLED_COUNTS.map((k, i) => `coalesce(sum((counts->>'${k}')::numeric), 0)::float8 AS c${i}`).join(', ');
    const rows = await this.query<{ status: RunStatus; runs: number; duration_ms: number } & Record<string, number>>(
      `SELECT status, count(*)::int AS runs, coalesce(sum(duration_ms), 0)::float8 AS duration_ms, ${sums} FROM ${this.t.runs} WHERE pipeline = $1 GROUP BY status`,
      [pipeline],
    );
    return rows.map((r) => ({
      status: r.status,
      runs: r.runs,
      durationMs: r.duration_ms,
      counts: Object.fromEntries(TOTALLED_COUNTS.map((k, i) => [k, r[`c${i}`]])) as unknown as RowCounts,
    }));
  }

  async closeOrphans(status: RunStatus, error: string): Promise<void> {
    await this.query(`UPDATE ${this.t.runs} SET status = $1, error = $2, finished_at = now() WHERE status = 'running' AND pid = $3 AND host = $4`, [
      status,
      error,
      process.pid,
      hostname(),
    ]);
  }

  async close(): Promise<void> {
    for (const pipeline of [...this.lockClients.keys()]) await this.releaseLock(pipeline).catch(() => undefined);
    await this.pool.end();
  }
}

interface RejectedRow {
  key: string;
  column_name: string | null;
  reason: string;
}

