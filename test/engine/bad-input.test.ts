import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { loadPipeline } from '../../src/config/load-pipeline.js';
import { runPipeline } from '../../src/engine/run-pipeline.js';
import { DESTINATION_ENGINES, duckdbExec, openTestDestination, tempDir, uniqueName, writeFile, type TestDestination } from '../support/databases.js';

/** Bad input gives a clear error naming the thing, and nothing is written. */
describe.each(DESTINATION_ENGINES)('bad input on %s', (engine) => {
  let dir: string;
  let db: TestDestination;
  let table: string;
  let warehouse: string;

  beforeAll(async () => {
    dir = tempDir();
    db = await openTestDestination(engine, dir);
    table = uniqueName('bad_input');
    warehouse = join(dir, 'w.duckdb');
    await duckdbExec(warehouse, [
      `CREATE TABLE good AS SELECT * FROM (VALUES (1, 'a'), (2, 'b')) t(id, label)`,
      `CREATE TABLE dup_keys AS SELECT * FROM (VALUES (1, 'a'), (1, 'b'), (2, 'c')) t(id, label)`,
      `CREATE TABLE null_keys AS SELECT * FROM (VALUES (1, 'a'), (NULL, 'b')) t(id, label)`,
    ]);
    await db.query(`CREATE TABLE ${table} (id bigint PRIMARY KEY, label text)`);
    await db.query(`INSERT INTO ${table} VALUES (100, 'existing')`);
  });
  afterAll(async () => {
    if (engine === 'postgres') await db.query(`DROP TABLE IF EXISTS ${table}`);
    await db.close();
  });

  async function run(model: string, extra = '') {
    const file = writeFile(
      join(dir, `${uniqueName('p')}.yaml`),
      `name: bad_${engine}\nsource:\n  type: duckdb\n  path: ${warehouse}\n  read_only: true\nmodel:\n  table: ${model}\n${db.yaml(table)}primary_key: id\nstate:\n  dir: ${join(dir, 'state')}\n${extra}`,
    );
    return runPipeline(loadPipeline(file), { full: true });
  }

  async function unchanged() {
    expect(await db.query(`SELECT id::int AS id, label FROM ${table} ORDER BY id`)).toEqual([{ id: 100, label: 'existing' }]);
  }

  it('duplicate keys in the model', async () => {
    const r = await run('dup_keys');
    expect(r.status).toBe('failed');
    expect(r.error).toMatch(/duplicate primary keys \(id\): \(id=1\) ×2; nothing was written/);
    await unchanged();
  });

  it('NULL keys in the model', async () => {
    const r = await run('null_keys');
    expect(r.status).toBe('failed');
    expect(r.error).toMatch(/1 row\(s\) with a NULL in the primary key \(id\)/);
    await unchanged();
  });

  it('a mapping to a column the table lacks', async () => {
    const r = await run('good', 'mapping:\n  id: id\n  label: title\n');
    expect(r.status).toBe('failed');
    expect(r.error).toMatch(/destination column "title" does not exist in table \S+ \(it has: id, label\)/);
    await unchanged();
  });

  it('a model without the primary key column', async () => {
    const r = await run('good', 'mapping:\n  label: label\n');
    expect(r.status).toBe('failed');
    expect(r.error).toMatch(/primary_key: column "id" is not in the mapping/);
    const r2 = await runPipeline(
      loadPipeline(
        writeFile(
          join(dir, 'nokey.yaml'),
          `source:\n  type: duckdb\n  path: ${warehouse}\n  read_only: true\nmodel:\n  query: SELECT label FROM good\n${db.yaml(table)}primary_key: id\nstate:\n  dir: ${join(dir, 'state')}\n`,
        ),
      ),
    );
    expect(r2.error).toMatch(/nokey\.yaml: primary_key: the model has no column "id" \(it has: label\)/);
    await unchanged();
  });

  it('a model column whose type does not fit the table', async () => {
    await duckdbExec(warehouse, `CREATE OR REPLACE TABLE blobs AS SELECT id, '\\x01'::BLOB AS label FROM good`);
    const r = await run('blobs');
    expect(r.status).toBe('failed');
    expect(r.error).toMatch(/column "label": model type bytes does not fit \S+\.label \(text\): bytes cannot be written into text/);
    await unchanged();
  });
});
