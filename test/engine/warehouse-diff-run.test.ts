import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { DuckDBInstance } from '@duckdb/node-api';
import { loadPipeline } from '../../src/config/load-pipeline.js';
import { runPipeline } from '../../src/engine/run-pipeline.js';
import { verifyPipeline } from '../../src/engine/verify.js';
import { stateNameFor } from '../../src/engine/run-warehouse-diff.js';
import { duckdbExec, PG_URL, tempDir, uniqueName, writeFile } from '../support/databases.js';
import { buildCli, killHard, removeCliBuild, runCli, startPaused } from '../support/cli-process.js';

/**
 * `diff: warehouse`, end to end, on a Postgres source and on a DuckDB file, into Postgres:
 * the snapshot lives in the source (a schema outflow owns), only changed rows cross
 * (counted by a trigger on the target and in the run report), a run killed between a
 * partition's delivery and its snapshot advance converges, and a partition that fails
 * transiently is the only one sent again.
 */
const ROWS = 20_000;

interface Side {
  name: 'postgres' | 'duckdb';
  /** The source: block and model: of the pipeline. */
  yaml: string;
  /** The model table as SQL names it in the warehouse. */
  table: string;
  exec(sql: string): Promise<void>;
  rows<T = Record<string, unknown>>(sql: string): Promise<T[]>;
  close(): Promise<void>;
}

async function postgresSide(): Promise<Side> {
  const schema = uniqueName('whrun');
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  await client.query(`CREATE SCHEMA ${schema}`);
  const table = `${schema}.items`;
  return {
    name: 'postgres',
    yaml: `source:\n  type: postgres\n  url: \${OUTFLOW_TEST_PG_URL}\nmodel:\n  table: ${table}\n`,
    table,
    exec: async (sql) => void (await client.query(sql)),
    rows: async (sql) => (await client.query(sql)).rows,
    close: async () => {
      await client.query(`DROP SCHEMA ${schema} CASCADE`);
      await client.end();
    },
  };
}

async function duckdbSide(dir: string): Promise<Side> {
  const path = join(dir, 'warehouse.duckdb');
  return {
    name: 'duckdb',
    yaml: `source:\n  type: duckdb\n  path: ${path}\nmodel:\n  table: items\n`,
    table: 'items',
    exec: (sql) => duckdbExec(path, sql),
    rows: async <T,>(sql: string) => {
      const instance = await DuckDBInstance.create(path);
      const c = await instance.connect();
      try {
        return (await c.runAndReadAll(sql)).getRowObjectsJson() as T[];
      } finally {
        c.closeSync();
        instance.closeSync();
      }
    },
    close: async () => undefined,
  };
}

interface Scenario {
  side: Side;
  dir: string;
  name: string;
  target: string;
  stateSchema: string;
  file: string;
  db: pg.Client;
}

const open: Scenario[] = [];

async function scenario(kind: 'postgres' | 'duckdb', opts: { partitions: number; mode: string; attempts?: number }): Promise<Scenario> {
  const dir = tempDir('outflow-whrun-');
  const side = kind === 'postgres' ? await postgresSide() : await duckdbSide(dir);
  const name = uniqueName('whrun');
  const target = uniqueName('whrun_t');
  const stateSchema = uniqueName('whrun_state');
  await side.exec(
    kind === 'postgres'
      ? `CREATE TABLE ${side.table} AS SELECT i AS id, 'name ' || i AS name, (i % 1000) AS v FROM generate_series(1, ${ROWS}) i`
      : `CREATE TABLE items AS SELECT i::INTEGER AS id, 'name ' || i AS name, (i % 1000)::INTEGER AS v FROM range(1, ${ROWS + 1}) t(i)`,
  );
  const db = new pg.Client({ connectionString: PG_URL });
  await db.connect();
  // Every row the target takes is written down by a trigger, in the same transaction: a
  // rolled-back merge leaves no trace, a committed one leaves one line per row.
  await db.query(`CREATE TABLE "${target}" (id integer PRIMARY KEY, name text, v integer)`);
  await db.query(`CREATE TABLE "${target}_audit" (op text, id integer)`);
  await db.query(`CREATE FUNCTION "${target}_log"() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN INSERT INTO "${target}_audit" VALUES (TG_OP, COALESCE(NEW.id, OLD.id)); RETURN NULL; END $$`);
  await db.query(`CREATE TRIGGER log AFTER INSERT OR UPDATE OR DELETE ON "${target}" FOR EACH ROW EXECUTE FUNCTION "${target}_log"()`);
  const file = writeFile(
    join(dir, `${name}.yaml`),
    `name: ${name}
${side.yaml}destination:
  type: postgres
  url: \${OUTFLOW_TEST_PG_URL}
  table: ${target}
primary_key: id
mode: ${opts.mode}
diff: warehouse
state_schema: ${stateSchema}
partitions: ${opts.partitions}
state:
  dir: ${join(dir, 'state')}
retry:
  attempts: ${opts.attempts ?? 1}
  initial_delay: 10ms
`,
  );
  const s = { side, dir, name, target, stateSchema, file, db };
  open.push(s);
  return s;
}

afterEach(async () => {
  for (const s of open.splice(0)) {
    await s.db.query(`DROP TABLE IF EXISTS "${s.target}" CASCADE; DROP TABLE IF EXISTS "${s.target}_audit"; DROP FUNCTION IF EXISTS "${s.target}_log"()`);
    await s.db.query(`DROP SEQUENCE IF EXISTS "${s.target}_faults"`);
    if (s.side.name === 'postgres') await s.db.query(`DROP SCHEMA IF EXISTS ${s.stateSchema} CASCADE`);
    await s.db.end();
    await s.side.close();
  }
});

beforeAll(() => buildCli(), 120_000);
afterAll(() => removeCliBuild());

/** 1% of the model changes: 200 rows updated, 10 deleted, 10 added. */
async function changeOnePercent(s: Scenario): Promise<void> {
  await s.side.exec(`UPDATE ${s.side.table} SET v = v + 1 WHERE id % 100 = 0`);
  await s.side.exec(`DELETE FROM ${s.side.table} WHERE id <= 10`);
  await s.side.exec(`INSERT INTO ${s.side.table} SELECT i, 'new ' || i, 0 FROM ${s.side.name === 'postgres' ? `generate_series(${ROWS + 1}, ${ROWS + 10}) i` : `range(${ROWS + 1}, ${ROWS + 11}) t(i)`}`);
}

async function snapshotRows(s: Scenario): Promise<number> {
  const [r] = await s.side.rows<{ n: unknown }>(`SELECT count(*) AS n FROM ${s.stateSchema}.${stateNameFor(s.name)}_snapshot`);
  return Number(r.n);
}

async function audit(s: Scenario): Promise<Record<string, number>> {
  const rows = await s.db.query<{ op: string; n: number }>(`SELECT op, count(*)::int AS n FROM "${s.target}_audit" GROUP BY op`);
  return Object.fromEntries(rows.rows.map((r) => [r.op, r.n]));
}

/** Target equals model: count and md5 over every row in key order, each side computing its own. */
async function expectConverged(s: Scenario): Promise<void> {
  const expr = `CAST(id AS VARCHAR) || '|' || name || '|' || CAST(v AS VARCHAR)`;
  const [model] = await s.side.rows<{ n: unknown; h: string }>(`SELECT count(*) AS n, md5(string_agg(${expr}, ',' ORDER BY id)) AS h FROM ${s.side.table}`);
  const { rows } = await s.db.query<{ n: number; h: string }>(`SELECT count(*)::int AS n, md5(string_agg(${expr}, ',' ORDER BY id)) AS h FROM "${s.target}"`);
  expect({ n: rows[0].n, h: rows[0].h }).toEqual({ n: Number(model.n), h: model.h });
  expect(await verifyPipeline(loadPipeline(s.file))).toMatchObject({ equal: true, missing: 0, extra: 0, different: 0 });
}

describe.each(['postgres', 'duckdb'] as const)('diff: warehouse on a %s source', (kind) => {
  it('keeps the snapshot in the source and sends only the changed rows, partition by partition', async () => {
    const s = await scenario(kind, { partitions: 4, mode: 'mirror' });
    const first = await runPipeline(loadPipeline(s.file));
    expect(first.error).toBeUndefined();
    expect(first).toMatchObject({ status: 'success', syncKind: 'full', counts: { read: ROWS, added: ROWS, sent: ROWS } });
    // The snapshot is in the warehouse, in the state schema; none is kept next to the pipeline.
    expect(await snapshotRows(s)).toBe(ROWS);
    expect(existsSync(join(s.dir, 'state', 'snapshots', `${s.name}.duckdb`))).toBe(false);
    await s.db.query(`TRUNCATE "${s.target}_audit"`);

    await changeOnePercent(s);
    const second = await runPipeline(loadPipeline(s.file));
    expect(second.error).toBeUndefined();
    expect(second).toMatchObject({
      status: 'success',
      syncKind: 'incremental',
      counts: { read: ROWS, added: 10, changed: 200, removed: 10, sent: 210, inserted: 10, updated: 200, deleted: 10, unchanged: ROWS - 210 },
    });
    // Only the 1% reached the target, and each partition was recorded on its own.
    expect(await audit(s)).toEqual({ INSERT: 10, UPDATE: 200, DELETE: 10 });
    expect(second.stages.filter((st) => /^snapshot \d\/4$/.test(st.stage))).toHaveLength(4);
    expect(await snapshotRows(s)).toBe(ROWS);
    await expectConverged(s);

    const third = await runPipeline(loadPipeline(s.file));
    expect(third.counts).toMatchObject({ read: ROWS, added: 0, changed: 0, removed: 0, sent: 0 });
    expect(await audit(s)).toEqual({ INSERT: 10, UPDATE: 200, DELETE: 10 });
  }, 120_000);

  it('converges after a run is killed between a partition delivered and its snapshot advance', async () => {
    const s = await scenario(kind, { partitions: 3, mode: 'mirror' });
    expect((await runCli(['run', s.file])).code).toBe(0);
    await changeOnePercent(s);
    await s.db.query(`TRUNCATE "${s.target}_audit"`);
    const started = await startPaused(['run', s.file], 'snapshot', join(s.dir, 'pause'));
    expect(started.paused, started.result?.stderr).toBe(true);
    expect((await killHard(started.run)).signal).toBe('SIGKILL');
    // One partition reached the target; the snapshot still says none did.
    const delivered = Object.values(await audit(s)).reduce((a, b) => a + b, 0);
    expect(delivered).toBeGreaterThan(0);
    expect(delivered).toBeLessThan(220);
    expect(await snapshotRows(s)).toBe(ROWS);

    const again = await runCli(['--json', 'run', s.file]);
    expect(again.code, again.stderr).toBe(0);
    // Every pending row is found again; the killed partition's rows are sent once more and change nothing.
    expect(JSON.parse(again.stdout).counts).toMatchObject({ added: 10, changed: 200, removed: 10, sent: 210 });
    await expectConverged(s);
    const a = await audit(s);
    expect(a.INSERT).toBe(10);
    expect(a.DELETE).toBe(10);
    expect(await snapshotRows(s)).toBe(ROWS);
    const quiet = await runCli(['--json', 'run', s.file]);
    expect(JSON.parse(quiet.stdout).counts).toMatchObject({ sent: 0, added: 0, changed: 0, removed: 0 });
  }, 180_000);
});

describe('partitions', () => {
  it('a partition that fails transiently is sent again alone; the others stay delivered', async () => {
    const s = await scenario('postgres', { partitions: 4, mode: 'upsert', attempts: 3 });
    expect((await runPipeline(loadPipeline(s.file))).status).toBe('success');
    await s.side.exec(`UPDATE ${s.side.table} SET v = v + 1 WHERE id % 50 = 0`);
    await s.db.query(`TRUNCATE "${s.target}_audit"`);
    // The target refuses row 5000 once, as a serialization failure (retryable): a sequence,
    // unlike a table, keeps its count when the failing transaction rolls back.
    await s.db.query(`CREATE SEQUENCE "${s.target}_faults"`);
    await s.db.query(`CREATE FUNCTION "${s.target}_fail"() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN IF NEW.id = 5000 AND nextval('"${s.target}_faults"') = 1 THEN RAISE EXCEPTION 'injected' USING ERRCODE = '40001'; END IF; RETURN NEW; END $$`);
    await s.db.query(`CREATE TRIGGER fail BEFORE UPDATE ON "${s.target}" FOR EACH ROW EXECUTE FUNCTION "${s.target}_fail"()`);

    const r = await runPipeline(loadPipeline(s.file));
    expect(r.error).toBeUndefined();
    expect(r.status).toBe('success');
    const stages = r.stages.map((st) => st.stage);
    // The failed partition was tried again on its own, with no new diff: five extracts for
    // four partitions, four advances, one diff, and no retry of the whole run.
    const retried = stages.filter((st) => /^partition \d\/4 retry 1: .*injected/.test(st));
    expect(retried).toHaveLength(1);
    const again = stages.indexOf(retried[0]);
    expect(stages[again + 1]).toBe(stages[again - 3]); // the same partition's extract, right after
    expect(stages.filter((st) => /^extract \d\/4$/.test(st))).toHaveLength(5);
    expect(stages.filter((st) => /^snapshot \d\/4$/.test(st))).toHaveLength(4);
    expect(stages.filter((st) => st === 'diff')).toHaveLength(1);
    expect(stages.some((st) => st.startsWith('retry '))).toBe(false);
    // Each changed row reached the target exactly once.
    const { rows } = await s.db.query<{ n: number; ids: number }>(`SELECT count(*)::int AS n, count(DISTINCT id)::int AS ids FROM "${s.target}_audit"`);
    expect(rows[0]).toEqual({ n: 400, ids: 400 });
    await s.db.query(`DROP TRIGGER fail ON "${s.target}"; DROP FUNCTION "${s.target}_fail"()`);
    await expectConverged(s);
  }, 120_000);
});
