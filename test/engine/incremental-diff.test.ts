import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { loadPipeline } from '../../src/config/load-pipeline.js';
import { runPipeline } from '../../src/engine/run-pipeline.js';
import { DESTINATION_ENGINES, duckdbExec, openTestDestination, tempDir, uniqueName, writeFile, type TestDestination } from '../support/databases.js';

/**
 * The incremental diff against a snapshot: an unchanged model stops after hashing (its
 * count and hash aggregates equal the snapshot's), and NULL or duplicate keys are still
 * refused when they are found through the join rather than by grouping every key.
 */
describe.each(DESTINATION_ENGINES)('incremental diff on %s', (engine) => {
  let dir: string;
  let db: TestDestination;
  let table: string;
  let warehouse: string;
  let stateDir: string;
  let name: string;

  beforeAll(async () => {
    dir = tempDir();
    db = await openTestDestination(engine, dir);
  });
  beforeEach(async () => {
    table = uniqueName('inc_diff');
    name = uniqueName('inc');
    warehouse = join(dir, `${name}.duckdb`);
    stateDir = join(dir, `${name}-state`);
    await duckdbExec(warehouse, `CREATE TABLE m AS SELECT i AS id, 'v' || i AS label FROM range(1, 101) t(i)`);
    await db.query(`CREATE TABLE ${table} (id bigint PRIMARY KEY, label text)`);
  });
  afterAll(async () => {
    await db.close();
  });

  const run = (mode = 'upsert') =>
    runPipeline(
      loadPipeline(
        writeFile(
          join(dir, `${name}.yaml`),
          `name: ${name}\nsource:\n  type: duckdb\n  path: ${warehouse}\n  read_only: true\nmodel:\n  table: m\n${db.yaml(table)}primary_key: id\nmode: ${mode}\nstate:\n  dir: ${stateDir}\n`,
        ),
      ),
    );
  const rows = async () => (await db.query(`SELECT id::int AS id, label FROM ${table} ORDER BY id`)) as { id: number; label: string }[];
  const stageNames = (r: Awaited<ReturnType<typeof run>>) => r.stages.map((s) => s.stage);

  it('an unchanged model is recognised from its aggregates: nothing sent, the snapshot left as it is; a change after that is sent', async () => {
    expect((await run()).counts.sent).toBe(100);
    const same = await run();
    expect(same.status).toBe('success');
    expect(same.counts).toMatchObject({ read: 100, sent: 0, unchanged: 100, added: 0, changed: 0 });
    expect(stageNames(same)).not.toContain('snapshot');

    await duckdbExec(warehouse, `UPDATE m SET label = 'changed' WHERE id = 42`);
    const changed = await run();
    expect(changed.counts).toMatchObject({ read: 100, sent: 1, changed: 1, added: 0, updated: 1 });
    expect((await rows()).find((r) => r.id === 42)?.label).toBe('changed');
    // Two rows swapping values keep the count but not the per-row hashes.
    await duckdbExec(warehouse, [`UPDATE m SET label = 'v2' WHERE id = 1`, `UPDATE m SET label = 'v1' WHERE id = 2`]);
    const swapped = await run();
    expect(swapped.counts).toMatchObject({ sent: 2, changed: 2 });
    expect((await rows()).slice(0, 2)).toEqual([
      { id: 1, label: 'v2' },
      { id: 2, label: 'v1' },
    ]);
  });

  it('a duplicate of a delivered key, a duplicate new key and a NULL key are refused by name; nothing is written', async () => {
    await run();
    const before = await rows();
    await duckdbExec(warehouse, `INSERT INTO m VALUES (7, 'second seven')`);
    const dupOld = await run();
    expect(dupOld.status).toBe('failed');
    expect(dupOld.error).toMatch(/duplicate primary keys \(id\): \(id=7\) ×2; nothing was written/);

    await duckdbExec(warehouse, [`DELETE FROM m WHERE label = 'second seven'`, `INSERT INTO m VALUES (500, 'a'), (500, 'b')`]);
    const dupNew = await run();
    expect(dupNew.error).toMatch(/duplicate primary keys \(id\): \(id=500\) ×2/);

    await duckdbExec(warehouse, [`DELETE FROM m WHERE id = 500`, `INSERT INTO m VALUES (NULL, 'no key')`]);
    const nullKey = await run();
    expect(nullKey.error).toMatch(/1 row\(s\) with a NULL in the primary key \(id\)/);
    expect(await rows()).toEqual(before);

    // A duplicate whose twin also differs from the snapshot: both rows are 'changed'.
    await duckdbExec(warehouse, [`DELETE FROM m WHERE id IS NULL`, `UPDATE m SET label = 'x' WHERE id = 9`, `INSERT INTO m VALUES (9, 'y')`]);
    expect((await run()).error).toMatch(/\(id=9\) ×2/);
    expect(await rows()).toEqual(before);
  });

  it('upsert forgets keys that left the model, so an unchanged model matches again and a returning row is sent again', async () => {
    await run();
    await duckdbExec(warehouse, `DELETE FROM m WHERE id = 100`);
    const gone = await run();
    expect(gone.counts).toMatchObject({ read: 99, sent: 0, removed: 0, deleted: 0 });
    expect(stageNames(gone)).toContain('snapshot');
    expect(await rows()).toHaveLength(100); // upsert never deletes

    const same = await run();
    expect(same.counts).toMatchObject({ read: 99, sent: 0 });
    expect(stageNames(same)).not.toContain('snapshot');

    // Back with a new value, and the destination row (still there) is updated.
    await duckdbExec(warehouse, `INSERT INTO m VALUES (100, 'back')`);
    const back = await run();
    expect(back.counts).toMatchObject({ added: 1, sent: 1, updated: 1 });
    expect((await rows()).find((r) => r.id === 100)?.label).toBe('back');
  });

  it('insert_new keeps keys that left the model: a returning key is not inserted twice', async () => {
    await run('insert_new');
    await duckdbExec(warehouse, `DELETE FROM m WHERE id = 100`);
    expect((await run('insert_new')).counts).toMatchObject({ sent: 0 });
    await duckdbExec(warehouse, `INSERT INTO m VALUES (100, 'v100')`);
    const back = await run('insert_new');
    expect(back.status).toBe('success');
    expect(back.counts).toMatchObject({ sent: 0, added: 0 });
  });

  it('a snapshot written before the aggregates existed still works and gains them at the next commit', async () => {
    await run();
    const snapshotFile = join(stateDir, 'snapshots', `${name}.duckdb`);
    await duckdbExec(snapshotFile, ['ALTER TABLE meta DROP COLUMN row_count', 'ALTER TABLE meta DROP COLUMN hash_sum', 'ALTER TABLE meta DROP COLUMN hash_xor']);
    const first = await run();
    expect(first.counts).toMatchObject({ read: 100, sent: 0 });
    expect(stageNames(first)).toContain('snapshot'); // compared row by row, then recorded with its aggregates
    const second = await run();
    expect(second.counts).toMatchObject({ read: 100, sent: 0 });
    expect(stageNames(second)).not.toContain('snapshot');
  });
});
