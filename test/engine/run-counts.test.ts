import { afterEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import Database from 'better-sqlite3';
import { runPipeline, previewPipeline } from '../../src/engine/run-pipeline.js';
import { printRun } from '../../src/cli/run-command.js';
import { runsCommand } from '../../src/cli/runs-command.js';
import { Reporter } from '../../src/cli/reporter.js';
import { HistoryStore } from '../../src/state/history-store.js';
import { MAX_REASON_CHARS, oneLineReason } from '../../src/state/run-result.js';
import type { RunResult } from '../../src/state/run-result.js';
import { openFixture, openNamesFixture, type Fixture } from '../support/change-fixture.js';
import { callCommand } from '../support/command-output.js';
import { tempDir } from '../support/databases.js';

let f: Fixture | undefined;
afterEach(async () => {
  await f?.close();
  f = undefined;
});

/** What `outflow run` prints for a result. */
function printed(r: RunResult): string {
  let out = '';
  const sink = { write: (s: string) => ((out += s), true), isTTY: false } as unknown as NodeJS.WriteStream;
  printRun(r, new Reporter(false, false, sink, sink));
  return out;
}

describe('counts that say what happened', () => {
  it.each(['insert_new', 'insert'] as const)('%s: changed model rows count as changed and not sent, in the run and in preview', async (mode) => {
    f = await openNamesFixture(`cnt_${mode}`);
    const p = f.pipeline({ mode });
    expect((await runPipeline(p)).status).toBe('success');
    await f.warehouseSql([`UPDATE items SET name = 'changed' WHERE id <= 2`, `INSERT INTO items VALUES (11, 'n11')`]);

    const pv = await previewPipeline(p);
    expect(pv.counts).toMatchObject({ read: 11, added: 1, changed: 2, notSent: 2 });

    const r = await runPipeline(p);
    expect(r.status).toBe('success');
    expect(r.counts).toMatchObject({ read: 11, added: 1, changed: 2, notSent: 2, sent: 1, inserted: 1, unchanged: 8 });
    expect(printed(r)).toContain('changed but not sent 2');
  });

  it('upsert and update report rows that left the model and stay in the destination', async () => {
    f = await openNamesFixture('cnt_left');
    const p = f.pipeline({ mode: 'upsert' });
    expect((await runPipeline(p)).status).toBe('success');
    await f.warehouseSql(`DELETE FROM items WHERE id = 3`);
    const r = await runPipeline(p);
    expect(r.counts).toMatchObject({ leftModel: 1, removed: 0, deleted: 0, unchanged: 9 });
    expect(printed(r)).toContain('left the model 1, kept in the destination');
    expect((await previewPipeline(f.pipeline({ mode: 'update' }))).counts.leftModel).toBe(0); // forgotten once reported (upsert)

    await f.warehouseSql(`DELETE FROM items WHERE id = 4`);
    const u = await runPipeline(f.pipeline({ mode: 'update' }));
    expect(u.counts).toMatchObject({ leftModel: 1, deleted: 0 });
  });

  it('a replace refused by the delete guard reports nothing sent', async () => {
    f = await openNamesFixture('cnt_replace', 100);
    const p = f.pipeline({ mode: 'replace' });
    expect((await runPipeline(p)).status).toBe('success');
    await f.warehouseSql(`DELETE FROM items WHERE id > 20`);
    const r = await runPipeline(p);
    expect(r.status).toBe('failed');
    expect(r.error).toMatch(/would delete 80 of 100 rows/);
    expect(r.counts).toMatchObject({ read: 20, sent: 0, inserted: 0, deleted: 0 });
    expect(printed(r)).toContain('sent 0');
  });

  it('both delete guards (the engine’s for mirror, the destination’s for replace) spell the ratio the same way', async () => {
    f = await openNamesFixture('cnt_ratio');
    for (const mode of ['mirror', 'replace'] as const) {
      await f.warehouseSql(`CREATE OR REPLACE TABLE items AS SELECT i::INTEGER AS id, 'n' || i AS name FROM range(1, 11) t(i)`);
      expect((await runPipeline(f.pipeline({ mode, extra: 'max_delete_ratio: 0.25\n' }), { full: true, allowMassDelete: true })).status).toBe('success');
      await f.warehouseSql(`DELETE FROM items WHERE id > 5`);
      const r = await runPipeline(f.pipeline({ mode, extra: 'max_delete_ratio: 0.25\n' }));
      expect(r.status).toBe('failed');
      expect(r.error, mode).toMatch(/would delete 5 of 10 (delivered )?rows \(50%\), more than max_delete_ratio 0\.25 \(25%\); nothing was written/);
    }
  });

  it('a rejected row whose reason quotes values with tabs and newlines stays one line, and long reasons are capped', async () => {
    f = await openFixture('cnt_reason');
    await f.warehouseSql(
      `CREATE TABLE items AS SELECT i::INTEGER AS id, CASE WHEN i = 2 THEN E'bad\\tvalue\\nsecond line ' || repeat('y', 2000) ELSE 'ok' END AS name FROM range(1, 4) t(i)`,
    );
    await f.query(`CREATE TABLE "${f.table}" (id integer PRIMARY KEY, name text CHECK (name NOT LIKE 'bad%'))`);
    const file = f.pipelineFile({ mode: 'upsert' });
    const r = await runPipeline(f.pipeline({ mode: 'upsert' }));
    expect(r.status).toBe('partial');
    expect(r.rejected).toHaveLength(1);
    const reason = r.rejected[0].reason;
    expect(reason).toContain('bad\\tvalue\\nsecond line'); // Postgres' DETAIL quotes the failing row
    expect(reason).not.toMatch(/[\t\n]/);
    expect(reason.length).toBeLessThan(MAX_REASON_CHARS + 40);
    // Postgres cuts the quoted row itself; a longer reason (another destination's) is cut here.
    expect(oneLineReason(`x\ty ${'z'.repeat(1000)}`)).toMatch(new RegExp(`^x\\\\ty z{${MAX_REASON_CHARS - 5}}… \\(705 more characters\\)$`));
    const listed = await callCommand(runsCommand, [file], { rejected: true, limit: '10' });
    const lines = listed.out.trimEnd().split('\n');
    expect(lines).toHaveLength(4); // heading, table header, rule, one row
    expect(lines[3]).toContain('{"id":2}');
  });
});

describe('a full mirror sync and a delete the target refuses', () => {
  it('isolates the refused delete (a foreign key still points at the row) like the incremental path, instead of failing the run', async () => {
    f = await openNamesFixture('full_fk');
    const child = `${f.table}_child`;
    try {
      await f.query(`CREATE TABLE "${child}" (id integer PRIMARY KEY, parent integer REFERENCES "${f.table}" (id))`);
      const p = f.pipeline({ mode: 'mirror' });
      expect((await runPipeline(p)).status).toBe('success');
      await f.query(`INSERT INTO "${child}" VALUES (1, 5)`);
      await f.warehouseSql(`DELETE FROM items WHERE id IN (5, 6)`);
      const r = await runPipeline(p, { full: true });
      expect(r.status, r.error).toBe('partial');
      expect(r.counts).toMatchObject({ deleted: 1, rejected: 1 });
      expect(r.rejected).toHaveLength(1);
      expect(r.rejected[0].key).toEqual({ id: '5' });
      expect(r.rejected[0].reason).toMatch(/^delete refused: .*foreign key/);
      expect(await f.query(`SELECT id FROM "${f.table}" WHERE id IN (5, 6) ORDER BY id`)).toEqual([{ id: 5 }]);
    } finally {
      await f.query(`DROP TABLE IF EXISTS "${child}"`);
    }
  });
});

describe('the run history', () => {
  it('names a dead run’s pid as an integer', async () => {
    const dir = tempDir('outflow-pid-');
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
    const pid = Number(dead.stdout.toString());
    const h = HistoryStore.open(dir);
    await h.acquireLock('p');
    const { id } = await h.startRun('p', 'upsert', 'cli');
    await h.close();
    // The lock now belongs to a process that has exited.
    const db = new Database(join(dir, 'history.sqlite'));
    db.prepare('UPDATE locks SET pid = ?').run(pid);
    db.prepare('UPDATE runs SET pid = ?').run(pid);
    db.close();
    const h2 = HistoryStore.open(dir);
    try {
      await h2.acquireLock('p');
      expect((await h2.getRun(id))?.error).toBe(`the process running it died (pid ${pid})`);
    } finally {
      await h2.close();
    }
  });
});
