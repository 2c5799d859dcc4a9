import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { hostname } from 'node:os';
import Database from 'better-sqlite3';
import type { RejectedRowRecord, RowCounts, RunResult, RunStatus, StageTiming } from '../state/run-result.js';
import { LockedError } from '../errors.js';
import type { ChangeEntry, ChangeOperation } from '../diff/change-keys.js';
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

/**
 * Run history, rejected rows and run locks, in SQLite (WAL) under the state folder. SQLite
 * because several processes on one machine share it: a `serve` process, a `run` from a
 * terminal and an `outflow runs` reading history while a run is going. better-sqlite3 is
 * synchronous; the methods are async only to fit `History` (see postgres-history.ts).
 */
export class HistoryStore implements History {
  private constructor(private readonly db: Database.Database) {}

  static open(stateDir: string): HistoryStore {
    mkdirSync(stateDir, { recursive: true });
    const db = new Database(join(stateDir, 'history.sqlite'));
    db.pragma('journal_mode = WAL');
    db.pragma('busy_timeout = 10000');
    db.exec(`
      CREATE TABLE IF NOT EXISTS runs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        pipeline TEXT NOT NULL,
        status TEXT NOT NULL,
        trigger TEXT NOT NULL,
        mode TEXT NOT NULL,
        sync_kind TEXT,
        full_reason TEXT,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        duration_ms INTEGER,
        counts TEXT NOT NULL,
        stages TEXT NOT NULL,
        error TEXT,
        pid INTEGER,
        host TEXT
      );
      CREATE INDEX IF NOT EXISTS runs_by_pipeline ON runs (pipeline, id);
      CREATE TABLE IF NOT EXISTS rejected_rows (
        run_id INTEGER NOT NULL,
        pipeline TEXT NOT NULL,
        key TEXT NOT NULL,
        column_name TEXT,
        reason TEXT NOT NULL
      );
      CREATE INDEX IF NOT EXISTS rejected_by_run ON rejected_rows (run_id);
      CREATE TABLE IF NOT EXISTS changes (
        run_id INTEGER NOT NULL,
        op TEXT NOT NULL,
        key TEXT NOT NULL,
        column_name TEXT,
        reason TEXT
      );
      CREATE INDEX IF NOT EXISTS changes_by_run ON changes (run_id);
      CREATE TABLE IF NOT EXISTS locks (
        pipeline TEXT PRIMARY KEY,
        run_id INTEGER,
        pid INTEGER NOT NULL,
        host TEXT NOT NULL,
        acquired_at TEXT NOT NULL
      );
    `);
    addRunNumbers(db);
    return new HistoryStore(db);
  }

  /**
   * Takes the pipeline's run lock. A lock whose holder process is gone (same host, dead pid)
   * is taken over, so a killed run never blocks the next one.
   */
  async acquireLock(pipeline: string): Promise<void> {
    const take = this.db.transaction(() => {
      const held = this.db.prepare('SELECT pid, host, acquired_at, run_id FROM locks WHERE pipeline = ?').get(pipeline) as
        | { pid: number; host: string; acquired_at: string; run_id: number | null }
        | undefined;
      if (held && !(held.host === hostname() && !isAlive(held.pid))) {
        throw new LockedError(lockedMessage(pipeline, { pid: held.pid, host: held.host, since: held.acquired_at, runId: held.run_id }));
      }
      if (held) {
        // The holder died: its run record stays 'running' forever unless we close it here.
        if (held.run_id) {
          this.db
            // The message is built here: SQLite's || would print a pid bound as a JS number as `3119.0`.
            .prepare(`UPDATE runs SET status = 'failed', error = ?, finished_at = ? WHERE id = ? AND status = 'running'`)
            .run(diedMessage(held.pid), new Date().toISOString(), held.run_id);
        }
        this.db.prepare('DELETE FROM locks WHERE pipeline = ?').run(pipeline);
      }
      this.db
        .prepare('INSERT INTO locks (pipeline, pid, host, acquired_at) VALUES (?, ?, ?, ?)')
        .run(pipeline, process.pid, hostname(), new Date().toISOString());
    });
    take.immediate();
  }

  async releaseLock(pipeline: string): Promise<void> {
    this.db.prepare('DELETE FROM locks WHERE pipeline = ? AND pid = ? AND host = ?').run(pipeline, process.pid, hostname());
  }

  async isLocked(pipeline: string): Promise<boolean> {
    const held = this.db.prepare('SELECT pid, host FROM locks WHERE pipeline = ?').get(pipeline) as { pid: number; host: string } | undefined;
    return !!held && !(held.host === hostname() && !isAlive(held.pid));
  }

  /** Who holds the pipeline's lock (a live process), for "running elsewhere"; undefined when free. */
  async lockHolder(pipeline: string): Promise<LockHolder | undefined> {
    const held = this.db.prepare('SELECT pid, host, run_id, acquired_at FROM locks WHERE pipeline = ?').get(pipeline) as
      | { pid: number; host: string; run_id: number | null; acquired_at: string }
      | undefined;
    if (!held || (held.host === hostname() && !isAlive(held.pid))) return undefined;
    return { runId: held.run_id, since: held.acquired_at, pid: held.pid, host: held.host };
  }

  /**
   * Records a new run. `id` is unique in the state folder; `number` counts this pipeline's
   * runs (1, 2, 3…) however many pipelines share the folder, and is what users see.
   */
  async startRun(pipeline: string, mode: string, trigger: string, status: RunStatus = 'running'): Promise<StartedRun> {
    const startedAt = new Date().toISOString();
    const insert = this.db.transaction(() => {
      const r = this.db
        .prepare(
          `INSERT INTO runs (pipeline, number, status, trigger, mode, started_at, counts, stages, pid, host)
           VALUES (?, (SELECT coalesce(max(number), 0) + 1 FROM runs WHERE pipeline = ?), ?, ?, ?, ?, '{}', '[]', ?, ?) RETURNING id, number`,
        )
        .get(pipeline, pipeline, status, trigger, mode, startedAt, process.pid, hostname()) as { id: number; number: number };
      if (status === 'running') this.db.prepare('UPDATE locks SET run_id = ? WHERE pipeline = ? AND pid = ?').run(r.id, pipeline, process.pid);
      return r;
    });
    const { id, number } = insert.immediate();
    return { id, number, startedAt };
  }

  /** Progress while a run is going (counts and stages so far), for live status. */
  async updateRun(id: number, counts: RowCounts, stages: StageTiming[]): Promise<void> {
    this.db.prepare('UPDATE runs SET counts = ?, stages = ? WHERE id = ?').run(JSON.stringify(counts), JSON.stringify(stages), id);
  }

  async finishRun(result: RunResult): Promise<void> {
    const save = this.db.transaction(() => {
      const columns = finishedRunColumns(result);
      this.db.prepare(`UPDATE runs SET ${columns.map(([c]) => `${c} = ?`).join(', ')} WHERE id = ?`).run(...columns.map(([, v]) => v), result.runId);
      const ins = this.db.prepare('INSERT INTO rejected_rows (run_id, pipeline, key, column_name, reason) VALUES (?, ?, ?, ?, ?)');
      for (const r of result.rejected) {
        const row = storedRejected(r);
        ins.run(result.runId, result.pipeline, row.key, row.column, row.reason);
      }
    });
    save();
  }

  async listRuns(pipeline: string | undefined, limit = 20, offset = 0): Promise<RunRecord[]> {
    const rows = (
      pipeline
        ? this.db.prepare('SELECT * FROM runs WHERE pipeline = ? ORDER BY id DESC LIMIT ? OFFSET ?').all(pipeline, limit, offset)
        : this.db.prepare('SELECT * FROM runs ORDER BY id DESC LIMIT ? OFFSET ?').all(limit, offset)
    ) as RunRow[];
    return rows.map(runRecord);
  }

  async countRuns(pipeline?: string): Promise<number> {
    const r = (pipeline
      ? this.db.prepare('SELECT count(*) AS n FROM runs WHERE pipeline = ?').get(pipeline)
      : this.db.prepare('SELECT count(*) AS n FROM runs').get()) as { n: number };
    return r.n;
  }

  async getRun(id: number): Promise<RunRecord | undefined> {
    const row = this.db.prepare('SELECT * FROM runs WHERE id = ?').get(id) as RunRow | undefined;
    return row ? runRecord(row) : undefined;
  }

  /** A pipeline's run by its number (what `outflow runs` shows and `--run N` takes). */
  async getRunByNumber(pipeline: string, number: number): Promise<RunRecord | undefined> {
    const row = this.db.prepare('SELECT * FROM runs WHERE pipeline = ? AND number = ?').get(pipeline, number) as RunRow | undefined;
    return row ? runRecord(row) : undefined;
  }

  async rejectedRows(runId: number, limit = 100, offset = 0): Promise<RejectedRowRecord[]> {
    const rows = this.db
      .prepare('SELECT key, column_name, reason FROM rejected_rows WHERE run_id = ? ORDER BY rowid LIMIT ? OFFSET ?')
      .all(runId, limit, offset) as { key: string; column_name: string | null; reason: string }[];
    return rows.map(rejectedRecord);
  }

  async countRejected(runId: number): Promise<number> {
    return (this.db.prepare('SELECT count(*) AS n FROM rejected_rows WHERE run_id = ?').get(runId) as { n: number }).n;
  }

  /** A run's rejected rows counted by column and reason, most frequent first. */
  async rejectedGroups(runId: number, limit = 100): Promise<RejectedGroup[]> {
    return this.db
      .prepare(
        'SELECT column_name AS "column", reason, count(*) AS count FROM rejected_rows WHERE run_id = ? GROUP BY column_name, reason ORDER BY count DESC, reason LIMIT ?',
      )
      .all(runId, limit) as { column: string | null; reason: string; count: number }[];
  }

  /** Rejected rows whose key, column or reason contains `text` (case-insensitive), paged. */
  async searchRejected(runId: number, text: string, limit: number, offset: number): Promise<{ rows: RejectedRowRecord[]; total: number }> {
    const where = "run_id = ? AND (instr(lower(key), lower(?)) > 0 OR instr(lower(coalesce(column_name, '')), lower(?)) > 0 OR instr(lower(reason), lower(?)) > 0)";
    const args = [runId, text, text, text];
    const rows = this.db
      .prepare(`SELECT key, column_name, reason FROM rejected_rows WHERE ${where} ORDER BY rowid LIMIT ? OFFSET ?`)
      .all(...args, limit, offset) as { key: string; column_name: string | null; reason: string }[];
    const total = (this.db.prepare(`SELECT count(*) AS n FROM rejected_rows WHERE ${where}`).get(...args) as { n: number }).n;
    return { rows: rows.map(rejectedRecord), total };
  }

  /** Every rejected row of a run, one at a time (CSV export without holding them all). */
  async *eachRejected(runId: number): AsyncGenerator<RejectedRowRecord> {
    const rows = this.db.prepare('SELECT key, column_name, reason FROM rejected_rows WHERE run_id = ? ORDER BY rowid').iterate(runId) as IterableIterator<{
      key: string;
      column_name: string | null;
      reason: string;
    }>;
    for (const r of rows) yield rejectedRecord(r);
  }

  /** Appends one page of a run's change log (key JSON, operation, and for a rejection its reason). */
  async recordChanges(runId: number, entries: ChangeEntry[]): Promise<void> {
    const ins = this.db.prepare('INSERT INTO changes (run_id, op, key, column_name, reason) VALUES (?, ?, ?, ?, ?)');
    this.db.transaction(() => {
      for (const e of entries) {
        const row = storedChange(e);
        ins.run(runId, row.op, row.key, row.column, row.reason);
      }
    })();
  }

  /** Forgets a run's change log (an attempt that is being retried records it again). */
  async clearChanges(runId: number): Promise<void> {
    this.db.prepare('DELETE FROM changes WHERE run_id = ?').run(runId);
  }

  /** One page of a run's change log, in the order it was recorded. */
  async changes(runId: number, limit = 100, offset = 0): Promise<ChangeRecord[]> {
    const rows = this.db
      .prepare('SELECT op, key, column_name, reason FROM changes WHERE run_id = ? ORDER BY rowid LIMIT ? OFFSET ?')
      .all(runId, limit, offset) as { op: ChangeOperation; key: string; column_name: string | null; reason: string | null }[];
    return rows.map(changeRecord);
  }

  /** How many change-log entries a run has, per operation. */
  async countChanges(runId: number): Promise<Partial<Record<ChangeOperation, number>>> {
    const rows = this.db.prepare('SELECT op, count(*) AS n FROM changes WHERE run_id = ? GROUP BY op').all(runId) as { op: ChangeOperation; n: number }[];
    return Object.fromEntries(rows.map((r) => [r.op, r.n]));
  }

  /** Drops the change logs of a pipeline's runs beyond the newest `keepRuns`, or older than `keepDays`. */
  async pruneChanges(pipeline: string, retention: { keepRuns?: number; keepDays?: number }): Promise<void> {
    if (retention.keepRuns !== undefined) {
      this.db
        .prepare(
          `DELETE FROM changes WHERE run_id IN (SELECT id FROM runs WHERE pipeline = ? AND id NOT IN (SELECT id FROM runs WHERE pipeline = ? ORDER BY id DESC LIMIT ?))`,
        )
        .run(pipeline, pipeline, retention.keepRuns);
    }
    if (retention.keepDays !== undefined) {
      const cutoff = new Date(Date.now() - retention.keepDays * 86_400_000).toISOString();
      this.db.prepare('DELETE FROM changes WHERE run_id IN (SELECT id FROM runs WHERE pipeline = ? AND started_at < ?)').run(pipeline, cutoff);
    }
  }

  /** Totals per run status for one pipeline (for /metrics): runs, summed duration and summed row counts. */
  async runTotals(pipeline: string): Promise<RunTotals[]> {
    const kinds = TOTALLED_COUNTS;
    const sums = kinds.map((k) => `coalesce(sum(json_extract(counts, '$.${k}')), 0) AS "${k}"`).join(', ');
    const rows = this.db
      .prepare(`SELECT status, count(*) AS runs, coalesce(sum(duration_ms), 0) AS duration_ms, ${sums} FROM runs WHERE pipeline = ? GROUP BY status`)
      .all(pipeline) as ({ status: RunStatus; runs: number; duration_ms: number } & Record<(typeof kinds)[number], number>)[];
    return rows.map((r) => ({
      status: r.status,
      runs: r.runs,
      durationMs: r.duration_ms,
      counts: Object.fromEntries(kinds.map((k) => [k, r[k]])) as unknown as RowCounts,
    }));
  }

  /** Marks runs left 'running' by this process (shutdown) with the given status. */
  async closeOrphans(status: RunStatus, error: string): Promise<void> {
    this.db
      .prepare(`UPDATE runs SET status = ?, error = ?, finished_at = ? WHERE status = 'running' AND pid = ? AND host = ?`)
      .run(status, error, new Date().toISOString(), process.pid, hostname());
  }

  async close(): Promise<void> {
    this.db.close();
  }
}


/**
 * History files written before run numbers counted per pipeline get the column, and their
 * runs are numbered in the order they ran, per pipeline; old files stay readable.
 */
function addRunNumbers(db: Database.Database): void {
  const columns = db.prepare('PRAGMA table_info(runs)').all() as { name: string }[];
  if (!columns.some((c) => c.name === 'number')) {
    db.transaction(() => {
      db.exec('ALTER TABLE runs ADD COLUMN number INTEGER');
      db.exec('UPDATE runs SET number = (SELECT count(*) FROM runs AS r WHERE r.pipeline = runs.pipeline AND r.id <= runs.id)');
    }).immediate();
  }
  db.exec('CREATE UNIQUE INDEX IF NOT EXISTS runs_by_number ON runs (pipeline, number)');
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
