import { afterEach, describe, expect, it } from 'vitest';
import { runPipeline } from '../../src/engine/run-pipeline.js';
import { openFixture, type Fixture } from '../support/change-fixture.js';

let f: Fixture | undefined;
afterEach(async () => {
  if (f) await f.query(`DROP TABLE IF EXISTS "${f.table}_audit"`).catch(() => undefined);
  await f?.close();
  f = undefined;
});

const staging = (fx: Fixture) => `"${`_outflow_stage_${fx.name}`.slice(0, 63)}"`;

describe('actions around a run on postgres', () => {
  it('a failed merge runs on_failure (truncating the staging table, writing an audit row), leaves the target unchanged; the next run succeeds', async () => {
    f = await openFixture('act_fail');
    const audit = `"${f.table}_audit"`;
    await f.warehouseSql(`CREATE TABLE items AS SELECT i::INTEGER AS id, i AS v FROM range(1, 501) t(i)`);
    await f.query(`CREATE TABLE "${f.table}" (id integer PRIMARY KEY, v integer)`);
    await f.query(`CREATE TABLE ${audit} (event text, at timestamptz DEFAULT now())`);
    // A whole-statement failure (not a row-level one): the merge fails as a whole.
    await f.query(`CREATE FUNCTION "${f.table}_veto"() RETURNS trigger AS $$ BEGIN
        IF NEW.v = 666 THEN RAISE EXCEPTION 'vetoed by trigger'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql`);
    await f.query(`CREATE TRIGGER veto BEFORE INSERT OR UPDATE ON "${f.table}" FOR EACH ROW EXECUTE FUNCTION "${f.table}_veto"()`);
    const actions = `actions:
  on_failure:
    - name: empty staging
      sql: TRUNCATE {{staging_table}}
    - name: audit failure
      sql: INSERT INTO ${audit} (event) VALUES ('failed')
  on_success:
    - name: audit success
      sql: INSERT INTO ${audit} (event) VALUES ('ok')
`;
    const p = f.pipeline({ mode: 'upsert', extra: actions });
    expect((await runPipeline(p)).status).toBe('success');
    const before = await f.query(`SELECT id, v FROM "${f.table}" ORDER BY id`);

    await f.warehouseSql([`UPDATE items SET v = 666 WHERE id = 300`, `UPDATE items SET v = 0 WHERE id < 50`]);
    const failed = await runPipeline(p);
    expect(failed.status).toBe('failed');
    expect(failed.error).toMatch(/vetoed by trigger/);
    expect(await f.query(`SELECT id, v FROM "${f.table}" ORDER BY id`)).toEqual(before);
    expect(await f.query(`SELECT count(*)::int AS n FROM ${staging(f)}`)).toEqual([{ n: 0 }]);
    expect(await f.query(`SELECT event FROM ${audit} ORDER BY at, event`)).toEqual([{ event: 'ok' }, { event: 'failed' }]);

    await f.warehouseSql(`UPDATE items SET v = 665 WHERE id = 300`);
    const next = await runPipeline(p);
    expect(next.status).toBe('success');
    expect(next.counts).toMatchObject({ changed: 50, updated: 50 });
    expect(await f.query(`SELECT count(*)::int AS n FROM "${f.table}" WHERE v = 0 OR v = 665`)).toEqual([{ n: 50 }]);
    expect((await f.query<{ event: string }>(`SELECT event FROM ${audit}`)).map((x) => x.event).sort()).toEqual(['failed', 'ok', 'ok']);
  });

  it('a failing action fails the run and its message names the action', async () => {
    f = await openFixture('act_broken');
    await f.warehouseSql(`CREATE TABLE items AS SELECT i::INTEGER AS id, i AS v FROM range(1, 11) t(i)`);
    await f.query(`CREATE TABLE "${f.table}" (id integer PRIMARY KEY, v integer)`);
    const before = await runPipeline(
      f.pipeline({ mode: 'upsert', extra: `actions:\n  before:\n    - name: warm the cache\n      sql: SELECT * FROM no_such_table_${f.name}\n` }),
    );
    expect(before.status).toBe('failed');
    expect(before.error).toMatch(/action "warm the cache" \(before\) failed: .*no_such_table/);
    expect(await f.query(`SELECT count(*)::int AS n FROM "${f.table}"`)).toEqual([{ n: 0 }]);

    const after = await runPipeline(
      f.pipeline({ mode: 'upsert', extra: `actions:\n  on_success:\n    - name: notify\n      sql: SELEC 1\n` }),
    );
    expect(after.status).toBe('failed');
    expect(after.error).toMatch(/action "notify" \(on_success\) failed: .*syntax error/);
  });
});
