import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { loadPipeline } from '../../src/config/load-pipeline.js';
import { runPipeline } from '../../src/engine/run-pipeline.js';
import { duckdbExec, openTestDestination, tempDir, uniqueName, writeFile, type TestDestination } from '../support/databases.js';

/** The pipeline's key may be a unique key of the target other than its primary key. */
describe('mirror keyed on a unique constraint that is not the primary key (postgres)', () => {
  let dir: string;
  let db: TestDestination;
  let table: string;
  let warehouse: string;

  beforeAll(async () => {
    dir = tempDir();
    db = await openTestDestination('postgres', dir);
    table = uniqueName('ukey');
    warehouse = join(dir, 'w.duckdb');
    await duckdbExec(warehouse, `CREATE TABLE m AS SELECT * FROM (VALUES ('a', 1), ('b', 2), ('c', 3)) t(code, n)`);
    await db.query(`CREATE TABLE ${table} (id bigserial PRIMARY KEY, code text NOT NULL UNIQUE, n int)`);
  });
  afterAll(async () => {
    await db.query(`DROP TABLE IF EXISTS ${table}`);
    await db.close();
  });

  it('deletes by the pipeline key', async () => {
    const file = writeFile(
      join(dir, 'p.yaml'),
      `name: ukey\nsource:\n  type: duckdb\n  path: ${warehouse}\nmodel:\n  table: m\n${db.yaml(table)}primary_key: code\nmode: mirror\nstate:\n  dir: ${join(dir, 'state')}\n`,
    );
    expect((await runPipeline(loadPipeline(file))).counts).toMatchObject({ inserted: 3 });
    await duckdbExec(warehouse, `DELETE FROM m WHERE code = 'b'`);
    const r = await runPipeline(loadPipeline(file));
    expect(r.error).toBeUndefined();
    expect(r.counts).toMatchObject({ removed: 1, deleted: 1 });
    expect(await db.query(`SELECT code, n FROM ${table} ORDER BY code`)).toEqual([
      { code: 'a', n: 1 },
      { code: 'c', n: 3 },
    ]);
  });
});
