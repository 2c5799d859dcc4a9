import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCli, removeCliBuild, runCli } from '../support/cli-process.js';
import { join } from 'node:path';
import { loadPipeline } from '../../src/config/load-pipeline.js';
import { runPipeline } from '../../src/engine/run-pipeline.js';
import { duckdbExec, openTestDestination, tempDir, uniqueName, writeFile, type TestDestination } from '../support/databases.js';

/**
 * A DuckDB source starts with a 64MB buffer pool (peak RSS stays flat). DuckDB's CSV
 * reader wants 30.5 MiB per thread, so a model reading a large CSV needs more: the
 * automatic limit grows; an explicit one is respected and the error names it.
 */
describe('DuckDB memory_limit on a DuckDB source', () => {
  let dir: string;
  let db: TestDestination;
  let table: string;
  let csv: string;

  beforeAll(async () => {
    buildCli();
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
    removeCliBuild();
  });

  // Every run is a full sync: the table is emptied between runs, behind the snapshot's back.
  const run = (memoryLimit?: string) =>
    runPipeline(
      loadPipeline(
        writeFile(
          join(dir, 'p.yaml'),
          `name: duck_mem\nsource:\n  type: duckdb\n${memoryLimit ? `  memory_limit: ${memoryLimit}\n` : ''}model:\n  query: SELECT * FROM read_csv('${csv}')\n${db.yaml(table)}primary_key: id\nstate:\n  dir: ${join(dir, 'state')}\n`,
        ),
      ),
      { full: true },
    );

  it('a large CSV read in the model: the automatic limit is raised and the run loads every row; an explicit limit is kept and named', async () => {
    const auto = await run();
    expect(auto.status).toBe('success');
    expect(auto.stages.map((s) => s.stage)).toContain('again: DuckDB ran out of memory, its memory_limit raised to 128MB');
    expect(await db.query(`SELECT count(*)::int AS n FROM ${table}`)).toEqual([{ n: 650000 }]);
    await db.query(`TRUNCATE ${table}`);

    const explicit = await run('64MB');
    expect(explicit.status).toBe('failed');
    expect(explicit.error).toMatch(/^Out of Memory Error: .* — DuckDB reached source\.memory_limit \(64MB\); raise it in the pipeline file/);
    expect(await db.query(`SELECT count(*)::int AS n FROM ${table}`)).toEqual([{ n: 0 }]);

    const raised = await run('256MB');
    expect(raised.status).toBe('success');
    expect(await db.query(`SELECT count(*)::int AS n FROM ${table}`)).toEqual([{ n: 650000 }]);
  });

  it('a new process starts from the limit an earlier run needed (kept in the snapshot), instead of failing its way up again', async () => {
    const file = writeFile(
      join(dir, 'learn.yaml'),
      `name: duck_mem_learn\nsource:\n  type: duckdb\nmodel:\n  query: SELECT * FROM read_csv('${csv}')\n${db.yaml(table)}primary_key: id\nstate:\n  dir: ${join(dir, 'state-learn')}\n`,
    );
    await db.query(`TRUNCATE ${table}`);
    const first = await runCli(['--json', 'run', '--full', file]);
    expect(first.code, first.stderr).toBe(0);
    const firstStages = (JSON.parse(first.stdout) as { stages: { stage: string }[] }).stages.map((s) => s.stage);
    expect(firstStages).toContain('again: DuckDB ran out of memory, its memory_limit raised to 128MB');

    await db.query(`TRUNCATE ${table}`);
    const second = await runCli(['--json', 'run', '--full', file]);
    expect(second.code, second.stderr).toBe(0);
    const report = JSON.parse(second.stdout) as { stages: { stage: string }[]; counts: { sent: number } };
    expect(report.stages.map((s) => s.stage).filter((s) => s.startsWith('again'))).toEqual([]);
    expect(report.counts.sent).toBe(650000);
    expect(await db.query(`SELECT count(*)::int AS n FROM ${table}`)).toEqual([{ n: 650000 }]);
  }, 60_000);
});
