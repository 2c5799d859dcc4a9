import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { loadPipeline } from '../../src/config/load-pipeline.js';
import { runPipeline } from '../../src/engine/run-pipeline.js';
import { duckdbExec, openTestDestination, tempDir, uniqueName, writeFile, type TestDestination } from '../support/databases.js';

/**
 * A DuckDB source runs with a 64MB buffer pool by default (peak RSS stays flat). DuckDB's
 * CSV reader wants 30.5 MiB per thread, so a model reading a large CSV needs more: the
 * error says which setting to raise, and raising it works.
 */
describe('DuckDB memory_limit on a DuckDB source', () => {
  let dir: string;
  let db: TestDestination;
  let table: string;
  let csv: string;

  beforeAll(async () => {
    dir = tempDir();
    db = await openTestDestination('postgres', dir);
    table = uniqueName('duck_mem');
    csv = join(dir, 'big.csv');
    // ~45 MB of CSV: more than one reader buffer.
    await duckdbExec(join(dir, 'gen.duckdb'), `COPY (SELECT i AS id, repeat('x', 60) || i AS label FROM range(0, 650000) t(i)) TO '${csv}' (FORMAT csv, HEADER true)`);
    await db.query(`CREATE TABLE ${table} (id bigint PRIMARY KEY, label text)`);
  });
  afterAll(async () => {
    await db.query(`DROP TABLE IF EXISTS ${table}`);
    await db.close();
  });

  const run = (memoryLimit?: string) =>
    runPipeline(
      loadPipeline(
        writeFile(
          join(dir, 'p.yaml'),
          `name: duck_mem\nsource:\n  type: duckdb\n${memoryLimit ? `  memory_limit: ${memoryLimit}\n` : ''}model:\n  query: SELECT * FROM read_csv('${csv}')\n${db.yaml(table)}primary_key: id\nstate:\n  dir: ${join(dir, 'state')}\n`,
        ),
      ),
    );

  it('a large CSV read in the model names source.memory_limit; raising it loads every row', async () => {
    const small = await run();
    expect(small.status).toBe('failed');
    expect(small.error).toMatch(/Out of Memory Error.*DuckDB reached its memory_limit \(64MB\); raise source\.memory_limit in the pipeline file/);
    expect(await db.query(`SELECT count(*)::int AS n FROM ${table}`)).toEqual([{ n: 0 }]);

    const raised = await run('256MB');
    expect(raised.status).toBe('success');
    expect(await db.query(`SELECT count(*)::int AS n FROM ${table}`)).toEqual([{ n: 650000 }]);
  });
});
