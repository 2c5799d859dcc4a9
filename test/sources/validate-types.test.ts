/**
 * `validate` (the CLI command, called in-process) on models whose column type the existing
 * Postgres table cannot hold: the error names the column and both types, exits non-zero,
 * and nothing is written. One case per source kind where the type comes from that source.
 */
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateCommand } from '../../src/cli/validate-command.js';
import { EXIT } from '../../src/cli/command.js';
import { loadPipeline } from '../../src/config/load-pipeline.js';
import { runPipeline } from '../../src/engine/run-pipeline.js';
import { callCommand } from '../support/command-output.js';
import { PG_URL, duckdbExec, tempDir, uniqueName, writeFile } from '../support/databases.js';
import { MYSQL_URL, mysqlAdmin, startBigqueryFake } from '../support/source-fixtures.js';

let dir: string;
let dest: pg.Client;
let warehouse: string;
const targets: string[] = [];
const cleanups: (() => Promise<void>)[] = [];

beforeAll(async () => {
  dir = tempDir();
  dest = new pg.Client({ connectionString: PG_URL });
  await dest.connect();
  warehouse = join(dir, 'warehouse.duckdb');
  await duckdbExec(warehouse, [
    `CREATE TABLE events AS SELECT 1::BIGINT AS id, '{"a":1}'::JSON AS payload, 12.123456789012::DECIMAL(38,12) AS amount`,
  ]);
});

afterAll(async () => {
  for (const c of cleanups) await c();
  for (const t of targets) await dest?.query(`DROP TABLE IF EXISTS ${t}`);
  await dest?.end();
});

/** A target table in Postgres, and a pipeline from `sourceYaml` into it. */
async function setup(name: string, ddl: string, sourceYaml: string) {
  const table = uniqueName(name);
  targets.push(table);
  await dest.query(`CREATE TABLE ${table} (${ddl})`);
  const file = writeFile(
    join(dir, `${name}.yaml`),
    `name: ${name}
${sourceYaml}destination:
  type: postgres
  url: \${OUTFLOW_TEST_PG_URL}
  table: ${table}
primary_key: id
mode: upsert
state:
  dir: ${join(dir, 'state')}
`,
  );
  return { table, file };
}

async function expectRefused(file: string, table: string, problem: string) {
  const v = await callCommand(validateCommand, [file]);
  expect(v.code).toBe(EXIT.config);
  expect(v.err).toContain(problem);
  // A run stops at the same check, before writing anything.
  const r = await runPipeline(loadPipeline(file));
  expect(r.status).toBe('failed');
  expect(r.error).toContain(problem);
  expect((await dest.query(`SELECT count(*)::int AS n FROM ${table}`)).rows).toEqual([{ n: 0 }]);
}

const duckdbYaml = (query: string) => `source:\n  type: duckdb\n  path: ${warehouse}\nmodel:\n  query: ${query}\n`;

describe('validate names the column and both types when the model does not fit', () => {
  it('a json model column into an existing integer column (DuckDB)', async () => {
    const { table, file } = await setup('v_json_int', 'id bigint PRIMARY KEY, payload integer', duckdbYaml('SELECT id, payload FROM events'));
    await expectRefused(file, table, `column "payload": model type json does not fit public.${table}.payload (integer): json cannot be written into integer: not a number`);
  });

  it('a bytes model column into a text column (MariaDB)', async () => {
    const source = uniqueName('outflow_v_bytes');
    const admin = mysqlAdmin();
    await admin.query(`CREATE TABLE \`${source}\` (id bigint PRIMARY KEY, blob_col varbinary(16))`);
    cleanups.push(async () => {
      await admin.query(`DROP TABLE IF EXISTS \`${source}\``);
      await admin.close();
    });
    const { table, file } = await setup(
      'v_bytes_text',
      'id bigint PRIMARY KEY, blob_col text',
      `source:\n  type: mysql\n  url: ${MYSQL_URL}\nmodel:\n  table: ${source}\n`,
    );
    await expectRefused(file, table, `column "blob_col": model type bytes does not fit public.${table}.blob_col (text): bytes cannot be written into text: no faithful text form`);
  });

  it('a BigQuery BIGNUMERIC into numeric(38,9) (local BigQuery endpoint)', async () => {
    const bq = await startBigqueryFake();
    cleanups.push(bq.close);
    const sql = 'SELECT id, big FROM warehouse.amounts';
    bq.fake.addQuery(sql, {
      fields: [
        { name: 'id', type: 'INTEGER', mode: 'NULLABLE' },
        { name: 'big', type: 'BIGNUMERIC', mode: 'NULLABLE' },
      ],
      rows: [['1', '1.5']],
    });
    const { table, file } = await setup('v_bignumeric', 'id bigint PRIMARY KEY, big numeric(38,9)', `${bq.sourceYaml}model:\n  query: ${sql}\n`);
    await expectRefused(
      file,
      table,
      `column "big": model type decimal(76,38) does not fit public.${table}.big (numeric(38,9)): decimal(76,38) cannot be written into numeric(38,9): Postgres would round 38 decimal places to 9`,
    );
    // validate and the run described the query with dry runs; no query job ever ran.
    expect(bq.fake.requests('jobs.query')).toHaveLength(0);
  });

  it('a decimal with a larger scale than the target allows (DuckDB)', async () => {
    const { table, file } = await setup('v_scale', 'id bigint PRIMARY KEY, amount numeric(38,9)', duckdbYaml('SELECT id, amount FROM events'));
    await expectRefused(
      file,
      table,
      `column "amount": model type decimal(38,12) does not fit public.${table}.amount (numeric(38,9)): decimal(38,12) cannot be written into numeric(38,9): Postgres would round 12 decimal places to 9`,
    );
  });

  it('a decimal wider than the target allows (Postgres source)', async () => {
    const schema = uniqueName('outflow_v_src');
    await dest.query(`CREATE SCHEMA "${schema}"; CREATE TABLE "${schema}".amounts (id bigint PRIMARY KEY, amount numeric(30,2))`);
    cleanups.push(async () => void (await dest.query(`DROP SCHEMA "${schema}" CASCADE`)));
    const { table, file } = await setup(
      'v_wide',
      'id bigint PRIMARY KEY, amount numeric(12,2)',
      `source:\n  type: postgres\n  url: \${OUTFLOW_TEST_PG_URL}\nmodel:\n  table: ${schema}.amounts\n`,
    );
    await expectRefused(
      file,
      table,
      `column "amount": model type decimal(30,2) does not fit public.${table}.amount (numeric(12,2)): decimal(30,2) cannot be written into numeric(12,2): 28 integer digits do not fit the 10 that numeric(12,2) allows`,
    );
  });

  it('accepts a decimal that fits (wider, same scale or more) and json into jsonb', async () => {
    const { file } = await setup('v_fits', 'id bigint PRIMARY KEY, amount numeric(40,12), payload jsonb', duckdbYaml('SELECT id, amount, payload FROM events'));
    const v = await callCommand(validateCommand, [file]);
    expect(v.err).toBe('');
    expect(v.code).toBe(EXIT.ok);
    expect(v.out).toContain('valid');
  });
});
