import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { loadPipeline } from '../../src/config/load-pipeline.js';
import { runPipeline, previewPipeline } from '../../src/engine/run-pipeline.js';
import { DESTINATION_ENGINES, US_STATES_CSV, duckdbExec, openTestDestination, tempDir, uniqueName, writeFile, type TestDestination } from '../support/databases.js';

/**
 * The reference scenario, with change detection, on each destination engine:
 * 59 rows → +Justania (60) → Justania JT→JA and +Justintucky (61) → mirror after deleting Justintucky (60).
 */
describe.each(DESTINATION_ENGINES)('US-states reference scenario on %s', (engine) => {
  let dir: string;
  let db: TestDestination;
  let table: string;
  let warehouse: string;

  beforeAll(async () => {
    dir = tempDir();
    db = await openTestDestination(engine, dir);
    table = uniqueName('state_abbreviations');
    warehouse = join(dir, 'warehouse.duckdb');
    await duckdbExec(warehouse, `CREATE TABLE state_abbreviations AS SELECT * FROM read_csv('${US_STATES_CSV}')`);
    await db.query(`CREATE TABLE ${table} (name VARCHAR(100), abbreviation VARCHAR(100), PRIMARY KEY (name))`);
    // Count what the destination really receives, independently of outflow's report.
    await db.query(`CREATE TABLE ${table}_writes (op text, name text)`);
    await db.query(`CREATE FUNCTION ${table}_log() RETURNS trigger AS $$ BEGIN
        INSERT INTO ${table}_writes VALUES (TG_OP, COALESCE(NEW.name, OLD.name)); RETURN NULL; END $$ LANGUAGE plpgsql`);
    await db.query(`CREATE TRIGGER log AFTER INSERT OR UPDATE OR DELETE ON ${table} FOR EACH ROW EXECUTE FUNCTION ${table}_log()`);
  });
  afterAll(async () => {
    if (engine === 'postgres') {
      await db.query(`DROP TABLE IF EXISTS ${table}, ${table}_writes`);
      await db.query(`DROP FUNCTION IF EXISTS ${table}_log()`);
    }
    await db.close();
  });

  function pipeline(mode: string) {
    const file = writeFile(
      join(dir, `us-states-${mode}.yaml`),
      `name: us_states_${engine}
source:
  type: duckdb
  path: ${warehouse}
model:
  table: state_abbreviations
${db.yaml(table)}primary_key: name
mode: ${mode}
state:
  dir: ${join(dir, 'state')}
`,
    );
    return loadPipeline(file);
  }

  async function writes() {
    const rows = await db.query<{ op: string; n: string }>(`SELECT op, count(*)::text AS n FROM ${table}_writes GROUP BY op`);
    await db.query(`DELETE FROM ${table}_writes`);
    return Object.fromEntries(rows.map((r) => [r.op, Number(r.n)]));
  }

  it('step 1: syncs 59 rows', async () => {
    const r = await runPipeline(pipeline('insert_new'));
    expect(r.error).toBeUndefined();
    expect(r.status).toBe('success');
    expect(r.counts).toMatchObject({ read: 59, added: 59, inserted: 59 });
    expect(await db.query(`SELECT count(*)::int AS n FROM ${table}`)).toEqual([{ n: 59 }]);
    expect(await writes()).toEqual({ INSERT: 59 });
  });

  it('step 2: sends exactly the one new row (insert_new)', async () => {
    await duckdbExec(warehouse, `INSERT INTO state_abbreviations VALUES ('Justania', 'JT')`);
    const r = await runPipeline(pipeline('insert_new'));
    expect(r.status).toBe('success');
    expect(r.counts).toMatchObject({ read: 60, added: 1, changed: 0, unchanged: 59, inserted: 1, sent: 1 });
    expect(await db.query(`SELECT count(*)::int AS n FROM ${table}`)).toEqual([{ n: 60 }]);
    expect(await writes()).toEqual({ INSERT: 1 });
  });

  it('step 3: one update and one insert (upsert)', async () => {
    await duckdbExec(warehouse, [
      `UPDATE state_abbreviations SET abbreviation = 'JA' WHERE name = 'Justania'`,
      `INSERT INTO state_abbreviations VALUES ('Justintucky', 'JK')`,
    ]);
    const r = await runPipeline(pipeline('upsert'));
    expect(r.status).toBe('success');
    expect(r.counts).toMatchObject({ read: 61, added: 1, changed: 1, inserted: 1, updated: 1, unchanged: 59, sent: 2 });
    expect(await db.query(`SELECT abbreviation FROM ${table} WHERE name = 'Justania'`)).toEqual([{ abbreviation: 'JA' }]);
    expect(await db.query(`SELECT count(*)::int AS n FROM ${table}`)).toEqual([{ n: 61 }]);
    expect(await writes()).toEqual({ INSERT: 1, UPDATE: 1 });
  });

  it('a run with nothing changed sends nothing', async () => {
    const r = await runPipeline(pipeline('upsert'));
    expect(r.status).toBe('success');
    expect(r.counts).toMatchObject({ read: 61, added: 0, changed: 0, sent: 0, unchanged: 61 });
    expect(await writes()).toEqual({});
  });

  it('preview shows the planned delete and changes nothing', async () => {
    await duckdbExec(warehouse, `DELETE FROM state_abbreviations WHERE name = 'Justintucky'`);
    const before = await db.query(`SELECT * FROM ${table} ORDER BY name`);
    const pv = await previewPipeline(pipeline('mirror'));
    expect(pv.counts).toMatchObject({ read: 60, removed: 1, added: 0, changed: 0 });
    expect(pv.planned).toMatchObject({ wouldDelete: 1, wouldInsert: 0, wouldUpdate: 0, targetRows: 61 });
    expect(pv.samples.removed).toEqual([['Justintucky']]);
    expect(await db.query(`SELECT * FROM ${table} ORDER BY name`)).toEqual(before);
    expect(await writes()).toEqual({});
  });

  it('step 4: mirror deletes the row that left the model', async () => {
    const r = await runPipeline(pipeline('mirror'));
    expect(r.status).toBe('success');
    expect(r.counts).toMatchObject({ removed: 1, deleted: 1, sent: 0 });
    expect(await db.query(`SELECT count(*)::int AS n FROM ${table}`)).toEqual([{ n: 60 }]);
    expect(await writes()).toEqual({ DELETE: 1 });
  });
});
