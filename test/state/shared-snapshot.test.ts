import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import pg from 'pg';
import { loadPipeline } from '../../src/config/load-pipeline.js';
import { runPipeline } from '../../src/engine/run-pipeline.js';
import { duckdbExec, PG_URL, tempDir, uniqueName, writeFile } from '../support/databases.js';

/**
 * With a state database (state.url), the local diff's snapshot is shared: two "machines"
 * (two state folders) running one pipeline in turn each diff against the snapshot the
 * other committed, so neither resends what the other delivered.
 */
const db = new pg.Client({ connectionString: PG_URL });
const stateSchema = uniqueName('snapst');
const target = uniqueName('snap_target');
const dir = tempDir('outflow-shared-snapshot-');
const warehouse = join(dir, 'warehouse.duckdb');
const file = join(dir, 'pipeline.yaml');

beforeAll(async () => {
  await db.connect();
  await duckdbExec(warehouse, `CREATE TABLE items AS SELECT i AS id, 'item ' || i AS name, i AS v FROM range(1, 1001) AS t(i)`);
  writeFile(
    file,
    `name: shared_snap\nsource:\n  type: duckdb\n  path: ${warehouse}\nmodel:\n  table: items\ndestination:\n  type: postgres\n  url: ${PG_URL}\n  table: ${target}\nprimary_key: id\n`,
  );
});

afterAll(async () => {
  await db.query(`DROP TABLE IF EXISTS ${target}`);
  await db.query(`DROP SCHEMA IF EXISTS ${stateSchema} CASCADE`);
  await db.end();
});

const onMachine = (name: string) => loadPipeline(file, { stateDir: join(dir, name), stateUrl: `${PG_URL}?schema=${stateSchema}` });

describe('shared snapshot (state.url)', () => {
  it('a run on another state folder diffs against the snapshot the last run stored, wherever it ran', async () => {
    const first = await runPipeline(onMachine('a'));
    expect(first.status, first.error).toBe('success');
    expect(first.counts).toMatchObject({ sent: 1000, inserted: 1000 });

    await duckdbExec(warehouse, 'UPDATE items SET v = v + 1 WHERE id % 100 = 0');
    const onB = await runPipeline(onMachine('b'));
    expect(onB.status, onB.error).toBe('success');
    // Without the shared snapshot, machine b would have no snapshot: a full sync of 1,000 rows.
    expect(onB.syncKind).toBe('incremental');
    expect(onB.counts).toMatchObject({ changed: 10, sent: 10, updated: 10 });
    expect(onB.stages.map((s) => s.stage)).toContain('snapshot version 1 fetched from the state database');

    // Back on a: its own folder holds version 1; b's version 2 is fetched, so b's 10 rows are not sent again.
    const backOnA = await runPipeline(onMachine('a'));
    expect(backOnA.status, backOnA.error).toBe('success');
    expect(backOnA.counts).toMatchObject({ sent: 0, changed: 0 });
    expect(backOnA.stages.map((s) => s.stage)).toContain('snapshot version 2 fetched from the state database');

    const stored = await db.query<{ version: string; pieces: string }>(
      `SELECT version::text, count(*)::text AS pieces FROM ${stateSchema}.snapshots WHERE pipeline = 'shared_snap' GROUP BY version`,
    );
    expect(stored.rows).toEqual([{ version: '2', pieces: '1' }]);
  });
});
