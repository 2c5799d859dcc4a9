import { afterEach, describe, expect, it } from 'vitest';
import { runPipeline } from '../../src/engine/run-pipeline.js';
import { runsCommand } from '../../src/cli/runs-command.js';
import { DESTINATION_ENGINES } from '../support/databases.js';
import { openFixture, type Fixture } from '../support/change-fixture.js';
import { callCommand } from '../support/command-output.js';

/**
 * Rows the destination refuses do not fail the run: they are isolated (at COPY by line
 * number, at merge by bisection), reported with key, column and reason, left out of the
 * snapshot, and sent again — alone — once the model fixes them.
 */
let f: Fixture | undefined;
afterEach(async () => {
  await f?.close();
  f = undefined;
});

/** Counts what the target really receives, independently of outflow's report. */
async function logWrites(fx: Fixture): Promise<() => Promise<Record<string, number>>> {
  const t = `"${fx.table}"`;
  const log = `"${fx.table}_w"`;
  await fx.query(`CREATE TABLE ${log} (op text, id int)`);
  await fx.query(`CREATE FUNCTION "${fx.table}_log"() RETURNS trigger AS $$ BEGIN
      INSERT INTO ${log} VALUES (TG_OP, COALESCE(NEW.id, OLD.id)); RETURN NULL; END $$ LANGUAGE plpgsql`);
  await fx.query(`CREATE TRIGGER log AFTER INSERT OR UPDATE OR DELETE ON ${t} FOR EACH ROW EXECUTE FUNCTION "${fx.table}_log"()`);
  return async () => {
    // Read and reset in one statement (on PGlite each statement opens the database).
    const rows = await fx.query<{ op: string; n: string }>(`WITH d AS (DELETE FROM ${log} RETURNING op) SELECT op, count(*)::text AS n FROM d GROUP BY op`);
    return Object.fromEntries(rows.map((r) => [r.op, Number(r.n)]));
  };
}

describe.each(DESTINATION_ENGINES)('rejected rows on %s', (engine) => {
  it('a value too long for VARCHAR(2) is refused at COPY; the rest arrive; the fixed row is sent alone', async () => {
    f = await openFixture('rej_copy', engine);
    await f.warehouseSql(
      `CREATE TABLE items AS SELECT i::INTEGER AS id, CASE WHEN i = 700 THEN 'ABC' ELSE 'C' || (i % 10) END AS code, i AS v FROM range(1, 2001) t(i)`,
    );
    await f.query(`CREATE TABLE "${f.table}" (id integer PRIMARY KEY, code varchar(2), v bigint)`);
    const writes = await logWrites(f);
    const file = f.pipelineFile({ mode: 'upsert' });
    const p = f.pipeline({ mode: 'upsert' });

    const r1 = await runPipeline(p);
    expect(r1.error).toBeUndefined();
    expect(r1.status).toBe('partial');
    expect(r1.counts).toMatchObject({ read: 2000, rejected: 1, inserted: 1999 });
    expect(r1.rejected).toHaveLength(1);
    expect(r1.rejected[0].key).toEqual({ id: 700 });
    expect(r1.rejected[0].column).toBe('code');
    expect(r1.rejected[0].reason).toMatch(/value too long for type character varying\(2\)/);
    expect(await f.query(`SELECT count(*)::int AS n, count(*) FILTER (WHERE id = 700)::int AS bad FROM "${f.table}"`)).toEqual([{ n: 1999, bad: 0 }]);
    expect(await writes()).toEqual({ INSERT: 1999 });

    // `outflow runs <pipeline> --rejected` lists the refused key and the reason.
    const listed = await callCommand(runsCommand, [file], { rejected: true });
    expect(listed.code).toBe(0);
    expect(listed.out).toContain('1 rejected row(s)');
    expect(listed.out).toContain('{"id":700}');
    expect(listed.out).toContain('value too long for type character varying(2)');

    // Nothing fixed: the refused row is tried again (it is not in the snapshot), alone.
    // (Postgres only: each PGlite run costs seconds of opening the database.)
    if (engine === 'postgres') {
      const r2 = await runPipeline(p);
      expect(r2.status).toBe('partial');
      // It is a retry, not a new row: counted as retried (and still rejected), not as added.
      expect(r2.counts).toMatchObject({ read: 2000, added: 0, retried: 1, sent: 1, rejected: 1, stillRejected: 1 });
      expect(await writes()).toEqual({});
    }

    await f.warehouseSql(`UPDATE items SET code = 'AB' WHERE id = 700`);
    const r3 = await runPipeline(p);
    expect(r3.status).toBe('success');
    expect(r3.counts).toMatchObject({ read: 2000, added: 0, changed: 0, retried: 1, sent: 1, inserted: 1, rejected: 0, stillRejected: 0, unchanged: 1999 });
    expect(await writes()).toEqual({ INSERT: 1 });
    expect(await f.query(`SELECT code FROM "${f.table}" WHERE id = 700`)).toEqual([{ code: 'AB' }]);
  });
});

describe('rejected rows at merge on postgres', () => {
  it('a CHECK constraint on the target refuses two rows; bisection isolates them and the rest are merged', async () => {
    f = await openFixture('rej_merge');
    await f.warehouseSql(`CREATE TABLE items AS SELECT i::INTEGER AS id, 'n' || i AS name, CASE WHEN i IN (137, 1801) THEN -1 ELSE i END AS v FROM range(1, 3001) t(i)`);
    await f.query(`CREATE TABLE "${f.table}" (id integer PRIMARY KEY, name text, v integer CONSTRAINT v_not_negative CHECK (v >= 0))`);
    const writes = await logWrites(f);
    const p = f.pipeline({ mode: 'upsert' });

    const r1 = await runPipeline(p);
    expect(r1.error).toBeUndefined();
    expect(r1.status).toBe('partial');
    expect(r1.counts).toMatchObject({ read: 3000, rejected: 2, inserted: 2998 });
    expect(r1.rejected.map((r) => r.key).sort((a, b) => Number(a.id) - Number(b.id))).toEqual([{ id: 137 }, { id: 1801 }]);
    for (const r of r1.rejected) expect(r.reason).toMatch(/violates check constraint "v_not_negative"/);
    expect(await writes()).toEqual({ INSERT: 2998 });

    // An incremental run: a changed row breaks the constraint; the other change goes through.
    await f.warehouseSql([`UPDATE items SET v = -5 WHERE id = 10`, `UPDATE items SET v = 99999 WHERE id = 20`]);
    const r2 = await runPipeline(p);
    expect(r2.status).toBe('partial');
    expect(r2.counts).toMatchObject({ changed: 2, added: 0, retried: 2, sent: 4, updated: 1, rejected: 3, stillRejected: 2 });
    expect(r2.rejected.map((r) => r.key.id).sort((a, b) => Number(a) - Number(b))).toEqual([10, 137, 1801]);
    expect(await writes()).toEqual({ UPDATE: 1 });
    expect(await f.query(`SELECT id, v FROM "${f.table}" WHERE id IN (10, 20) ORDER BY id`)).toEqual([
      { id: 10, v: 10 },
      { id: 20, v: 99999 },
    ]);

    await f.warehouseSql(`UPDATE items SET v = 1 WHERE v < 0`);
    const r3 = await runPipeline(p);
    expect(r3.status).toBe('success');
    expect(r3.counts).toMatchObject({ added: 0, changed: 0, retried: 3, sent: 3, inserted: 2, updated: 1, rejected: 0 });
    expect(await writes()).toEqual({ INSERT: 2, UPDATE: 1 });
  });

  it('a foreign key on the target refuses the row whose parent is missing', async () => {
    f = await openFixture('rej_fk');
    const parent = `${f.table}_parent`;
    await f.query(`CREATE TABLE "${parent}" (id integer PRIMARY KEY)`);
    await f.query(`INSERT INTO "${parent}" SELECT generate_series(1, 9)`);
    await f.warehouseSql(`CREATE TABLE items AS SELECT i::INTEGER AS id, 'n' || i AS name, CASE WHEN i = 42 THEN 10 ELSE 1 + i % 9 END AS v FROM range(1, 501) t(i)`);
    await f.query(`CREATE TABLE "${f.table}" (id integer PRIMARY KEY, name text, v integer REFERENCES "${parent}" (id))`);
    try {
      const r = await runPipeline(f.pipeline({ mode: 'upsert' }));
      expect(r.status).toBe('partial');
      expect(r.rejected).toHaveLength(1);
      expect(r.rejected[0].key).toEqual({ id: 42 });
      expect(r.rejected[0].reason).toMatch(/violates foreign key constraint/);
      expect(await f.query(`SELECT count(*)::int AS n FROM "${f.table}"`)).toEqual([{ n: 499 }]);
    } finally {
      await f.query(`DROP TABLE IF EXISTS "${f.table}"`);
      await f.query(`DROP TABLE IF EXISTS "${parent}"`);
    }
  });

  it('mirror: a delete refused by a foreign key is isolated; the other changes go through and the delete is retried', async () => {
    f = await openFixture('rej_delete');
    const child = `${f.table}_child`;
    await f.warehouseSql(`CREATE TABLE items AS SELECT i::INTEGER AS id, 'n' || i AS name FROM range(1, 101) t(i)`);
    await f.query(`CREATE TABLE "${f.table}" (id integer PRIMARY KEY, name text)`);
    const p = f.pipeline({ mode: 'mirror' });
    try {
      expect((await runPipeline(p)).status).toBe('success');
      await f.query(`CREATE TABLE "${child}" (parent integer REFERENCES "${f.table}" (id))`);
      await f.query(`INSERT INTO "${child}" VALUES (5)`);
      await f.warehouseSql([`DELETE FROM items WHERE id IN (5, 6, 60)`, `UPDATE items SET name = 'x' WHERE id = 7`]);

      const r1 = await runPipeline(p);
      expect(r1.error).toBeUndefined();
      expect(r1.status).toBe('partial');
      expect(r1.counts).toMatchObject({ removed: 3, deleted: 2, updated: 1, rejected: 1 });
      expect(r1.rejected).toEqual([{ key: { id: 5 }, column: undefined, reason: expect.stringMatching(/^delete refused: .*violates foreign key constraint.*still referenced/) }]);
      expect(await f.query(`SELECT id FROM "${f.table}" WHERE id IN (5, 6, 60) ORDER BY id`)).toEqual([{ id: 5 }]);
      expect(await f.query(`SELECT name FROM "${f.table}" WHERE id = 7`)).toEqual([{ name: 'x' }]);

      // The refused key stays in the snapshot: the next run tries that delete, and only it, again.
      const r2 = await runPipeline(p);
      expect(r2).toMatchObject({ status: 'partial', counts: { removed: 1, sent: 0, deleted: 0, rejected: 1 } });
      await f.query(`DELETE FROM "${child}"`);
      const r3 = await runPipeline(p);
      expect(r3).toMatchObject({ status: 'success', counts: { removed: 1, deleted: 1, rejected: 0 } });
      expect(await f.query(`SELECT count(*)::int AS n FROM "${f.table}"`)).toEqual([{ n: 97 }]);
    } finally {
      await f.query(`DROP TABLE IF EXISTS "${child}"`);
    }
  });
});
