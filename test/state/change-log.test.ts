import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runPipeline } from '../../src/engine/run-pipeline.js';
import { runsCommand } from '../../src/cli/runs-command.js';
import { HistoryStore } from '../../src/state/history-store.js';
import { openFixture, type Fixture } from '../support/change-fixture.js';
import { callCommand } from '../support/command-output.js';
import { startTestServer } from '../server/serve-fixtures.js';
import { PG_URL } from '../support/databases.js';

let f: Fixture | undefined;
afterEach(async () => {
  await f?.close();
  f = undefined;
});

type Change = { op: string; key: Record<string, unknown>; column?: string; reason?: string };
const sorted = (cs: Change[]) => cs.map((c) => `${c.op} ${JSON.stringify(c.key)}${c.reason ? ` ${c.reason}` : ''}`).sort();

describe('the row-level change log of a run', () => {
  it('keeps key and operation per row (inserted, updated, deleted, rejected with its reason), paged in the CLI and the API', async () => {
    f = await openFixture('chlog');
    await f.warehouseSql(`CREATE TABLE items AS SELECT i::INTEGER AS id, 'v' || i AS v FROM range(1, 6) t(i)`);
    await f.query(`CREATE TABLE "${f.table}" (id integer PRIMARY KEY, v text CHECK (v <> 'bad'))`);
    const file = f.pipelineFile({ mode: 'mirror' });
    const first = await runPipeline(f.pipeline({ mode: 'mirror' }));
    expect(first.status).toBe('success');

    await f.warehouseSql([`UPDATE items SET v = 'x2' WHERE id = 2`, `UPDATE items SET v = 'bad' WHERE id = 3`, `DELETE FROM items WHERE id = 4`, `INSERT INTO items VALUES (9, 'v9')`]);
    const second = await runPipeline(f.pipeline({ mode: 'mirror' }));
    expect(second.status).toBe('partial');

    const all = JSON.parse((await callCommand(runsCommand, [file], { changes: true, run: '2', limit: '100', offset: '0' }, true)).out) as { total: number; counts: Record<string, number>; changes: Change[] };
    expect(all.total).toBe(4);
    expect(all.counts).toEqual({ inserted: 1, updated: 1, deleted: 1, rejected: 1 });
    expect(sorted(all.changes)).toEqual([
      'deleted {"id":4}',
      'inserted {"id":9}',
      expect.stringMatching(/^rejected \{"id":3\} .*check constraint/),
      'updated {"id":2}',
    ]);
    // The first run loaded 5 rows into the empty table.
    const run1 = JSON.parse((await callCommand(runsCommand, [file], { changes: true, run: '1', limit: '2', offset: '4' }, true)).out) as { counts: Record<string, number>; changes: Change[] };
    expect(run1.counts).toEqual({ inserted: 5 });
    expect(run1.changes).toHaveLength(1);
    const text = await callCommand(runsCommand, [file], { changes: true, run: '2', limit: '2', offset: '0' });
    expect(text.out).toMatch(/run 2: 4 change\(s\) logged/);
    expect(text.out).toMatch(/next page: --changes --run 2 --offset 2/);

    // Next run: the rejected row, fixed in the model, is delivered: `retried`.
    await f.warehouseSql(`UPDATE items SET v = 'fixed' WHERE id = 3`);
    expect((await runPipeline(f.pipeline({ mode: 'mirror' }))).status).toBe('success');
    const run3 = JSON.parse((await callCommand(runsCommand, [file], { changes: true, run: '3', limit: '100', offset: '0' }, true)).out) as { changes: Change[] };
    expect(sorted(run3.changes)).toEqual(['retried {"id":3}']);

    const server = await startTestServer({ dir: f.dir, env: { ...process.env, OUTFLOW_TEST_PG_URL: PG_URL } });
    try {
      const r = await server.get(`/api/pipelines/${f.name}/runs/${second.runId}/changes?limit=3&offset=0`);
      expect(r.status).toBe(200);
      expect(r.body.counts).toEqual({ inserted: 1, updated: 1, deleted: 1, rejected: 1 });
      expect(r.body.changes).toHaveLength(3);
    } finally {
      await server.stop();
    }
  });

  it('is bounded per run and pruned to the newest keep_runs runs', async () => {
    f = await openFixture('chlog_keep');
    await f.warehouseSql(`CREATE TABLE items AS SELECT i::INTEGER AS id, i AS v FROM range(1, 51) t(i)`);
    const extra = `change_log: { keep_runs: 2, max_rows_per_run: 10 }\n`;
    for (let i = 0; i < 3; i++) {
      await f.warehouseSql(`UPDATE items SET v = v + 1`);
      expect((await runPipeline(f.pipeline({ mode: 'upsert', extra }))).status).toBe('success');
    }
    const h = HistoryStore.open(join(f.dir, 'state'));
    try {
      const runs = await Promise.all(
        (await h.listRuns(f.name)).map(async (r) => [r.number, r.counts.changed || r.counts.added, Object.values(await h.countChanges(r.id)).reduce((a, b) => a + (b ?? 0), 0)]),
      );
      // Each run changed 50 rows; the log keeps 10 of them, and only for the 2 newest runs.
      expect(runs).toEqual([
        [3, 50, 10],
        [2, 50, 10],
        [1, 50, 0],
      ]);
    } finally {
      await h.close();
    }
  });
});
