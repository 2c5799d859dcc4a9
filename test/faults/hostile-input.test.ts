import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import pg from 'pg';
import { loadPipeline } from '../../src/config/load-pipeline.js';
import { runPipeline } from '../../src/engine/run-pipeline.js';
import { verifyPipeline } from '../../src/engine/verify.js';
import { PG_URL, duckdbExec, tempDir, uniqueName, writeFile } from '../support/databases.js';
import { DuckDBInstance } from '@duckdb/node-api';

/** SQL-injection payloads, one per identifier position; each aims at a victim table that must survive. */
function payloads(victim: string, duckVictim: string) {
  return {
    modelTable: `m"; DROP TABLE ${duckVictim}; --`,
    keyColumn: `x"; DROP TABLE ${victim}; --`,
    modelColumn: `v'); DROP TABLE ${duckVictim}; --`,
    mappedColumn: `c"" ; DROP TABLE ${victim}; --`,
    targetTable: `t"; DROP TABLE ${victim}; --`,
    targetSchema: `s'; DROP TABLE ${victim}; --`,
    dollarColumn: `$1) OR 1=1; DROP TABLE ${victim}; --`,
  };
}

/** A double-quoted SQL identifier, for the test's own statements. */
const sqlName = (s: string) => `"${s.replace(/"/g, '""')}"`;

/** YAML double-quoted scalar for any string. */
const y = (s: string) => JSON.stringify(s);

describe('hostile identifiers are always quoted', () => {
  let dir: string;
  let client: pg.Client;
  let victim: string;
  let duckVictim: string;
  let warehouse: string;
  let p: ReturnType<typeof payloads>;

  beforeAll(async () => {
    dir = tempDir('outflow-hostile-');
    client = new pg.Client({ connectionString: PG_URL });
    await client.connect();
    victim = uniqueName('victim');
    duckVictim = 'duck_victim';
    p = payloads(victim, duckVictim);
    await client.query(`CREATE TABLE ${victim} (x int)`);
    await client.query(`INSERT INTO ${victim} VALUES (1)`);
    warehouse = join(dir, 'warehouse.duckdb');
    const q = (s: string) => `"${s.replace(/"/g, '""')}"`;
    await duckdbExec(warehouse, [
      `CREATE TABLE ${duckVictim} (x INT)`,
      `INSERT INTO ${duckVictim} VALUES (1)`,
      `CREATE TABLE ${q(p.modelTable)} AS SELECT i AS ${q(p.keyColumn)}, 'v' || i AS ${q(p.modelColumn)}, i * 2 AS ${q(p.dollarColumn)}, 'plain' AS ok FROM range(1, 11) t(i)`,
    ]);
  });
  afterAll(async () => {
    await client.query(`DROP TABLE IF EXISTS ${victim}`);
    await client.query(`DROP SCHEMA IF EXISTS ${client.escapeIdentifier(p.targetSchema)} CASCADE`);
    await client.query(`DROP TABLE IF EXISTS ${client.escapeIdentifier(p.targetTable)}`);
    await client.end();
  });

  async function victimsSurvive() {
    expect(await client.query(`SELECT count(*)::int AS n FROM ${victim}`).then((r) => r.rows)).toEqual([{ n: 1 }]);
    const instance = await DuckDBInstance.create(warehouse);
    const c = await instance.connect();
    try {
      expect((await c.runAndReadAll(`SELECT count(*)::INT AS n FROM ${duckVictim}`)).getRowObjects()).toEqual([{ n: 1 }]);
    } finally {
      c.closeSync();
      instance.closeSync();
    }
  }

  async function columnsOf(schema: string | null, table: string): Promise<string[]> {
    const r = await client.query<{ c: string }>(
      `SELECT column_name AS c FROM information_schema.columns WHERE table_name = $1 AND ($2::text IS NULL OR table_schema = $2) ORDER BY ordinal_position`,
      [table, schema],
    );
    return r.rows.map((x) => x.c);
  }

  let attempts = 0;

  it('through config (table, schema, mapping, primary key) and model column names: 0 injections executed', async () => {
    const file = (name: string, destTable: string, withMapping: boolean) =>
      writeFile(
        join(dir, `${name}.yaml`),
        `name: ${name}
source:
  type: duckdb
  path: ${warehouse}
model:
  table: ${y(p.modelTable)}
destination:
  type: postgres
  url: ${PG_URL}
  table: ${y(destTable)}
primary_key: ${y(p.keyColumn)}
mode: mirror
${withMapping ? `mapping:\n  ${y(p.keyColumn)}: ${y(p.mappedColumn)}\n  ${y(p.modelColumn)}: ${y(p.modelColumn)}\n  ${y(p.dollarColumn)}: ${y(p.dollarColumn)}\n  ok: ok\n` : ''}state:
  dir: ${join(dir, 'state')}
`,
      );
    // 1) unqualified hostile table name, model column names kept (key, text, "$1" column)
    // 2) hostile schema + hostile table, hostile mapped destination key column
    const cases = [
      { name: 'h1', table: p.targetTable, schema: null as string | null, mapped: false },
      { name: 'h2', table: `${p.targetSchema}.${p.targetTable}`, schema: p.targetSchema, mapped: true },
    ];
    for (const c of cases) {
      const pipe = loadPipeline(file(c.name, c.table, c.mapped));
      const first = await runPipeline(pipe);
      expect(first.error).toBeUndefined();
      expect(first.counts.inserted).toBe(10);
      // An incremental run exercises the diff, staging and merge SQL with the same names.
      await duckdbExec(warehouse, `UPDATE ${sqlName(p.modelTable)} SET ok = 'changed' WHERE ${sqlName(p.keyColumn)} <= 3`);
      const second = await runPipeline(pipe);
      expect(second.error).toBeUndefined();
      expect(second.counts).toMatchObject({ updated: 3, unchanged: 7 });
      expect((await verifyPipeline(pipe)).equal).toBe(true);
      await duckdbExec(warehouse, `UPDATE ${sqlName(p.modelTable)} SET ok = 'plain'`);
      attempts += c.mapped ? 7 : 5; // positions carrying a payload in this case
      const cols = await columnsOf(c.schema, p.targetTable);
      expect(cols).toEqual([c.mapped ? p.mappedColumn : p.keyColumn, p.modelColumn, p.dollarColumn, 'ok']);
      await victimsSurvive();
    }
    // The hostile schema exists under its literal name, holding the literal table.
    const schemas = await client.query(`SELECT 1 FROM information_schema.schemata WHERE schema_name = $1`, [p.targetSchema]);
    expect(schemas.rowCount).toBe(1);
    console.log(`[hostile] ${attempts} injection attempts through config and model identifiers, 0 executed (victim tables intact, literal names exist as columns)`);
  });
});

describe('bad values become rejected rows, not crashes', () => {
  let dir: string;
  let client: pg.Client;
  let table: string;
  let warehouse: string;

  beforeAll(async () => {
    dir = tempDir('outflow-badvalues-');
    client = new pg.Client({ connectionString: PG_URL });
    await client.connect();
    table = uniqueName('bad_values');
    await client.query(`CREATE TABLE ${table} (id int PRIMARY KEY, small integer, d date, code varchar(5), note text, amount numeric(5,2))`);
    warehouse = join(dir, 'warehouse.duckdb');
    await duckdbExec(warehouse, [
      `CREATE TABLE m (id INT, small BIGINT, d VARCHAR, code VARCHAR, note VARCHAR, amount VARCHAR)`,
      `INSERT INTO m VALUES
         (1, 1, '2024-02-28', 'ok', 'fine', '1.5'),
         (2, 2, '2024-02-28', 'ok', 'nul' || chr(0) || 'byte', '1.5'),
         (3, 3000000000, '2024-02-28', 'ok', 'int64 into integer', '1.5'),
         (4, 4, '2024-02-30', 'ok', 'invalid date', '1.5'),
         (5, 5, '2024-02-28', 'toolong', 'string too long', '1.5'),
         (6, 6, '2024-02-28', 'ok', 'numeric overflow', '12345.67'),
         (7, 7, '2024-03-01', 'ok', 'fine too', '-2.25')`,
    ]);
  });
  afterAll(async () => {
    await client.query(`DROP TABLE IF EXISTS ${table}`);
    await client.end();
  });

  it('run status partial, each bad row rejected with its reason, the good rows delivered', async () => {
    const file = writeFile(
      join(dir, 'bad.yaml'),
      `name: bad_values
source:
  type: duckdb
  path: ${warehouse}
model:
  table: m
destination:
  type: postgres
  url: ${PG_URL}
  table: ${table}
primary_key: id
mode: upsert
state:
  dir: ${join(dir, 'state')}
`,
    );
    const pipe = loadPipeline(file);
    const r = await runPipeline(pipe);
    expect(r.error).toBeUndefined();
    expect(r.status).toBe('partial');
    expect(r.counts).toMatchObject({ read: 7, rejected: 5, inserted: 2 });
    const byKey = Object.fromEntries(r.rejected.map((x) => [Number(x.key.id), `${x.column}: ${x.reason}`]));
    expect(byKey[2]).toMatch(/^note: .*NUL byte/);
    expect(byKey[3]).toMatch(/small.*out of range for type integer/);
    expect(byKey[4]).toMatch(/^d: .*date\/time field value out of range: "2024-02-30"/);
    expect(byKey[5]).toMatch(/^code: value too long for type character varying\(5\)/);
    expect(byKey[6]).toMatch(/amount: numeric field overflow/);
    expect(await client.query(`SELECT id FROM ${table} ORDER BY id`).then((x) => x.rows)).toEqual([{ id: 1 }, { id: 7 }]);
    // Rejected rows are sent again next run; once fixed in the model they are delivered.
    await duckdbExec(warehouse, `UPDATE m SET small = 3, d = '2024-02-29', code = 'fixed', note = 'fixed', amount = '1' WHERE id BETWEEN 2 AND 6`);
    const again = await runPipeline(pipe);
    expect(again.status).toBe('success');
    expect(again.counts.inserted).toBe(5);
    // (verify compares model text with typed target values here, so count instead.)
    expect(await client.query(`SELECT count(*)::int AS n, count(*) FILTER (WHERE code = 'fixed')::int AS fixed FROM ${table}`).then((x) => x.rows)).toEqual([{ n: 7, fixed: 5 }]);
  });
});
