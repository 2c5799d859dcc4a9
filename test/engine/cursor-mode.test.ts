import { afterEach, describe, expect, it } from 'vitest';
import { runPipeline } from '../../src/engine/run-pipeline.js';
import { openFixture, type Fixture } from '../support/change-fixture.js';

let f: Fixture | undefined;
afterEach(async () => {
  await f?.close();
  f = undefined;
});

describe('cursor mode (incremental: {cursor: updated_at}) on postgres', () => {
  it('reads only rows past the last delivered cursor value', async () => {
    f = await openFixture('cursor');
    await f.warehouseSql(
      `CREATE TABLE items AS SELECT i::INTEGER AS id, 'n' || i AS name, TIMESTAMP '2024-01-01 00:00:00' + INTERVAL (i) MINUTE AS updated_at FROM range(1, 1001) t(i)`,
    );
    await f.query(`CREATE TABLE "${f.table}" (id integer PRIMARY KEY, name text, updated_at timestamp)`);
    const p = f.pipeline({ mode: 'upsert', extra: 'incremental:\n  cursor: updated_at\n' });

    const r1 = await runPipeline(p);
    expect(r1.error).toBeUndefined();
    expect(r1.counts).toMatchObject({ read: 1000, added: 1000, sent: 1000 });

    const r2 = await runPipeline(p);
    expect(r2.counts).toMatchObject({ read: 0, sent: 0 });

    await f.warehouseSql([
      // three rows change and say so; two arrive
      `UPDATE items SET name = 'changed', updated_at = TIMESTAMP '2024-06-01 00:00:00' + INTERVAL (id) SECOND WHERE id IN (5, 6, 7)`,
      `INSERT INTO items VALUES (1001, 'new', TIMESTAMP '2024-06-02 00:00:00'), (1002, 'new', TIMESTAMP '2024-06-02 00:00:01')`,
      // one changes without moving its cursor: cursor mode does not see it, by design
      `UPDATE items SET name = 'silent' WHERE id = 8`,
    ]);
    const r3 = await runPipeline(p);
    expect(r3.status).toBe('success');
    expect(r3.counts).toMatchObject({ read: 5, added: 2, changed: 3, sent: 5, inserted: 2, updated: 3 });
    expect(await f.query(`SELECT id, name FROM "${f.table}" WHERE id IN (5, 6, 7, 8, 1001, 1002) ORDER BY id`)).toEqual([
      { id: 5, name: 'changed' },
      { id: 6, name: 'changed' },
      { id: 7, name: 'changed' },
      { id: 8, name: 'n8' },
      { id: 1001, name: 'new' },
      { id: 1002, name: 'new' },
    ]);

    const r4 = await runPipeline(p);
    expect(r4.counts).toMatchObject({ read: 0, sent: 0 });
    // A full run reads everything again and picks up the silent change.
    const r5 = await runPipeline(p, { full: true });
    expect(r5.counts).toMatchObject({ read: 1002 });
    expect(await f.query(`SELECT name FROM "${f.table}" WHERE id = 8`)).toEqual([{ name: 'silent' }]);
  });
});

describe('cursor mode with a Postgres source', () => {
  it('asks the source only for rows past the cursor (not the whole model, filtered afterwards)', async () => {
    f = await openFixture('cursor_pgsrc');
    const src = `${f.table}_src`;
    await f.query(
      `CREATE TABLE "${src}" AS SELECT i AS id, 'n' || i AS name, timestamptz '2024-01-01 00:00:00+00' + make_interval(mins => i) AS updated_at FROM generate_series(1, 1000) i`,
    );
    await f.query(`CREATE TABLE "${f.table}" (id integer PRIMARY KEY, name text, updated_at timestamptz)`);
    try {
      const file = f.pipelineFile({ mode: 'upsert', extra: 'incremental:\n  cursor: updated_at\n' });
      const { loadPipeline } = await import('../../src/config/load-pipeline.js');
      const { readFileSync, writeFileSync } = await import('node:fs');
      // Same pipeline, model read from a Postgres table instead of the DuckDB warehouse.
      writeFileSync(
        file,
        readFileSync(file, 'utf8')
          .replace(/source:\n  type: duckdb\n  path: .*\n/, 'source:\n  type: postgres\n  url: ${OUTFLOW_TEST_PG_URL}\n')
          .replace('table: items', `table: ${src}`),
      );
      const p = loadPipeline(file);
      const extracted = async (full = false) => {
        let rows = 0;
        const r = await runPipeline(p, { full, onProgress: (e) => (e.stage === 'extract' && e.rows ? (rows += e.rows) : undefined) });
        return { r, rows };
      };
      const first = await extracted();
      expect(first.r.error).toBeUndefined();
      expect(first.rows).toBe(1000);
      expect(first.r.counts).toMatchObject({ read: 1000, sent: 1000 });

      await f.query(`UPDATE "${src}" SET name = 'changed', updated_at = timestamptz '2024-06-01 00:00:00+00' + make_interval(secs => id) WHERE id IN (3, 4)`);
      await f.query(`INSERT INTO "${src}" VALUES (1001, 'new', timestamptz '2024-06-02 00:00:00+00')`);
      const second = await extracted();
      expect(second.r.status).toBe('success');
      expect(second.rows).toBe(3);
      expect(second.r.counts).toMatchObject({ read: 3, added: 1, changed: 2, sent: 3 });
      expect(await f.query(`SELECT count(*)::int AS n FROM "${f.table}" WHERE name IN ('changed', 'new')`)).toEqual([{ n: 3 }]);

      expect((await extracted()).rows).toBe(0);
      expect((await extracted(true)).rows).toBe(1001);
    } finally {
      await f.query(`DROP TABLE IF EXISTS "${src}"`);
    }
  });
});
