import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { HistoryStore } from '../../src/state/history-store.js';
import { tempDir } from '../support/databases.js';

// Numbering per pipeline, in SQLite and Postgres alike, is in history.test.ts.
describe('run numbers count per pipeline', () => {
  it('a history file from before run numbers stays readable and is numbered per pipeline', async () => {
    const dir = tempDir('outflow-runno-old-');
    const old = new Database(join(dir, 'history.sqlite'));
    old.exec(`CREATE TABLE runs (id INTEGER PRIMARY KEY AUTOINCREMENT, pipeline TEXT NOT NULL, status TEXT NOT NULL, trigger TEXT NOT NULL,
      mode TEXT NOT NULL, sync_kind TEXT, full_reason TEXT, started_at TEXT NOT NULL, finished_at TEXT, duration_ms INTEGER,
      counts TEXT NOT NULL, stages TEXT NOT NULL, error TEXT, pid INTEGER, host TEXT)`);
    for (const p of ['x', 'y', 'x']) {
      old.prepare(`INSERT INTO runs (pipeline, status, trigger, mode, started_at, counts, stages) VALUES (?, 'success', 'cli', 'upsert', '2026-01-01', '{"read":1}', '[]')`).run(p);
    }
    old.close();
    const h = HistoryStore.open(dir);
    try {
      expect((await h.listRuns('x')).map((r) => [r.id, r.number, r.counts.read])).toEqual([
        [3, 2, 1],
        [1, 1, 1],
      ]);
      expect((await h.startRun('y', 'upsert', 'cli')).number).toBe(2);
    } finally {
      await h.close();
    }
  });
});
