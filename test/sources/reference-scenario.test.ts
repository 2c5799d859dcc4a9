/**
 * The reference scenario (59 → 60 → 61 rows, then a mirror delete) through runPipeline into
 * the real Postgres destination, from every source: one shared test body, one fixture per
 * source. DuckDB and Parquet are diffed in place; Postgres, MariaDB and BigQuery stream into
 * the DuckDB workspace first.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadPipeline } from '../../src/config/load-pipeline.js';
import { runPipeline } from '../../src/engine/run-pipeline.js';
import { PG_URL, US_STATES_CSV, duckdbExec, tempDir, uniqueName, writeFile } from '../support/databases.js';
import { BIGQUERY_PROJECT, MYSQL_URL, mysqlAdmin, selectedSources, startBigqueryFake, writeParquet, type SourceEngine } from '../support/source-fixtures.js';
import type { BigqueryFakeServer } from '../support/bigquery-fake-server.js';

type Row = [name: string, abbreviation: string];
type Change = { insert: Row } | { update: Row } | { delete: string };

/** A source holding the states model, changed between steps the way that engine is changed. */
interface ScenarioSource {
  /** The `source:` and `model:` blocks of the pipeline YAML. */
  yaml: string;
  load(rows: Row[]): Promise<void>;
  /** Applies the changes; `rows` is the whole model afterwards (for sources that are rewritten whole). */
  apply(changes: Change[], rows: Row[]): Promise<void>;
  close(): Promise<void>;
  /** The BigQuery fake, to check the request log. */
  fake?: BigqueryFakeServer;
}

const STATES: Row[] = readFileSync(US_STATES_CSV, 'utf8')
  .trim()
  .split('\n')
  .slice(1)
  .map((line) => line.split(',') as Row);

function sqlValues(rows: Row[]): string {
  return rows.map(([n, a]) => `('${n.replace(/'/g, "''")}', '${a.replace(/'/g, "''")}')`).join(', ');
}

const FIXTURES: Record<SourceEngine, (dir: string) => Promise<ScenarioSource>> = {
  async duckdb(dir) {
    const path = join(dir, 'warehouse.duckdb');
    const exec = (sql: string[]) => duckdbExec(path, sql);
    return {
      yaml: `source:\n  type: duckdb\n  path: ${path}\nmodel:\n  table: state_abbreviations\n`,
      load: (rows) => exec([`CREATE OR REPLACE TABLE state_abbreviations (name VARCHAR, abbreviation VARCHAR)`, `INSERT INTO state_abbreviations VALUES ${sqlValues(rows)}`]),
      apply: (changes) =>
        exec(
          changes.map((c) =>
            'insert' in c
              ? `INSERT INTO state_abbreviations VALUES ${sqlValues([c.insert])}`
              : 'update' in c
                ? `UPDATE state_abbreviations SET abbreviation = '${c.update[1]}' WHERE name = '${c.update[0]}'`
                : `DELETE FROM state_abbreviations WHERE name = '${c.delete}'`,
          ),
        ),
      close: async () => undefined,
    };
  },

  async postgres() {
    const schema = uniqueName('outflow_src');
    const admin = new pg.Client({ connectionString: PG_URL });
    await admin.connect();
    await admin.query(`CREATE SCHEMA "${schema}"`);
    const table = `"${schema}".state_abbreviations`;
    return {
      yaml: `source:\n  type: postgres\n  url: \${OUTFLOW_TEST_PG_URL}\nmodel:\n  table: ${schema}.state_abbreviations\n`,
      load: async (rows) => {
        await admin.query(`CREATE TABLE ${table} (name text PRIMARY KEY, abbreviation text)`);
        await admin.query(`INSERT INTO ${table} SELECT * FROM unnest($1::text[], $2::text[])`, [rows.map((r) => r[0]), rows.map((r) => r[1])]);
      },
      apply: async (changes) => {
        for (const c of changes) {
          if ('insert' in c) await admin.query(`INSERT INTO ${table} VALUES ($1, $2)`, c.insert);
          else if ('update' in c) await admin.query(`UPDATE ${table} SET abbreviation = $2 WHERE name = $1`, c.update);
          else await admin.query(`DELETE FROM ${table} WHERE name = $1`, [c.delete]);
        }
      },
      close: async () => {
        await admin.query(`DROP SCHEMA "${schema}" CASCADE`);
        await admin.end();
      },
    };
  },

  async mysql() {
    const table = uniqueName('outflow_states');
    const admin = mysqlAdmin();
    return {
      yaml: `source:\n  type: mysql\n  url: ${MYSQL_URL}\nmodel:\n  table: ${table}\n`,
      load: async (rows) => {
        await admin.query(`CREATE TABLE \`${table}\` (name varchar(100) PRIMARY KEY, abbreviation varchar(100)) CHARACTER SET utf8mb4`);
        await admin.query(`INSERT INTO \`${table}\` VALUES ?`, [rows]);
      },
      apply: async (changes) => {
        for (const c of changes) {
          if ('insert' in c) await admin.query(`INSERT INTO \`${table}\` VALUES (?, ?)`, c.insert);
          else if ('update' in c) await admin.query(`UPDATE \`${table}\` SET abbreviation = ? WHERE name = ?`, [c.update[1], c.update[0]]);
          else await admin.query(`DELETE FROM \`${table}\` WHERE name = ?`, [c.delete]);
        }
      },
      close: async () => {
        await admin.query(`DROP TABLE IF EXISTS \`${table}\``);
        await admin.close();
      },
    };
  },

  async parquet(dir) {
    const path = join(dir, 'states.parquet');
    // The whole file is rewritten at each step, as an export job would.
    const write = (rows: Row[]) => writeParquet(path, `SELECT * FROM (VALUES ${sqlValues(rows)}) AS t(name, abbreviation)`);
    return {
      yaml: `source:\n  type: files\n  path: ${path}\nmodel:\n  table: files\n`,
      load: write,
      apply: (_changes, rows) => write(rows),
      close: async () => undefined,
    };
  },

  async bigquery() {
    const bq = await startBigqueryFake();
    const sql = 'SELECT name, abbreviation FROM warehouse.state_abbreviations';
    // The fake does not run SQL: each step cans the result BigQuery would return for this query.
    const can = (rows: Row[]) =>
      bq.fake.addQuery(sql, {
        fields: [
          { name: 'name', type: 'STRING', mode: 'NULLABLE' },
          { name: 'abbreviation', type: 'STRING', mode: 'NULLABLE' },
        ],
        rows,
      });
    return {
      yaml: `${bq.sourceYaml}model:\n  query: ${sql}\n`,
      load: async (rows) => can(rows),
      apply: async (_changes, rows) => can(rows),
      close: bq.close,
      fake: bq.fake,
    };
  },
};

describe.each(selectedSources())('reference scenario from %s into Postgres', (engine) => {
  let dir: string;
  let source: ScenarioSource;
  let dest: pg.Client;
  let table: string;
  let rows: Row[] = [...STATES];

  beforeAll(async () => {
    dir = tempDir();
    source = await FIXTURES[engine](dir);
    await source.load(rows);
    table = uniqueName(`states_from_${engine}`);
    dest = new pg.Client({ connectionString: PG_URL });
    await dest.connect();
    await dest.query(`CREATE TABLE ${table} (name varchar(100) PRIMARY KEY, abbreviation varchar(100))`);
    // What the destination really receives, counted independently of outflow's report.
    await dest.query(`CREATE TABLE ${table}_writes (op text, name text)`);
    await dest.query(`CREATE FUNCTION ${table}_log() RETURNS trigger AS $$ BEGIN
        INSERT INTO ${table}_writes VALUES (TG_OP, COALESCE(NEW.name, OLD.name)); RETURN NULL; END $$ LANGUAGE plpgsql`);
    await dest.query(`CREATE TRIGGER log AFTER INSERT OR UPDATE OR DELETE ON ${table} FOR EACH ROW EXECUTE FUNCTION ${table}_log()`);
  });

  afterAll(async () => {
    await dest?.query(`DROP TABLE IF EXISTS ${table}, ${table}_writes`);
    await dest?.query(`DROP FUNCTION IF EXISTS ${table}_log()`);
    await dest?.end();
    await source?.close();
  });

  function pipeline(mode: string) {
    const file = writeFile(
      join(dir, `states-${mode}.yaml`),
      `name: states_from_${engine}
${source.yaml}destination:
  type: postgres
  url: \${OUTFLOW_TEST_PG_URL}
  table: ${table}
primary_key: name
mode: ${mode}
state:
  dir: ${join(dir, 'state')}
`,
    );
    return loadPipeline(file);
  }

  async function change(changes: Change[]) {
    for (const c of changes) {
      if ('insert' in c) rows.push(c.insert);
      else if ('update' in c) rows = rows.map((r) => (r[0] === c.update[0] ? c.update : r));
      else rows = rows.filter((r) => r[0] !== c.delete);
    }
    await source.apply(changes, rows);
  }

  async function count() {
    return (await dest.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`)).rows[0].n;
  }

  async function writes() {
    const r = await dest.query<{ op: string; n: number }>(`SELECT op, count(*)::int AS n FROM ${table}_writes GROUP BY op`);
    await dest.query(`DELETE FROM ${table}_writes`);
    return Object.fromEntries(r.rows.map((w) => [w.op, w.n]));
  }

  it('step 1: sends all 59 rows', async () => {
    const r = await runPipeline(pipeline('insert_new'));
    expect(r.error).toBeUndefined();
    expect(r.status).toBe('success');
    expect(r.counts).toMatchObject({ read: 59, added: 59, inserted: 59 });
    expect(await count()).toBe(59);
    expect(await writes()).toEqual({ INSERT: 59 });
    if (source.fake) expect(source.fake.requests('jobs.query').at(-1)?.status).toBe(200);
  });

  it('step 2: sends exactly the one new row', async () => {
    await change([{ insert: ['Justania', 'JT'] }]);
    const r = await runPipeline(pipeline('insert_new'));
    expect(r.error).toBeUndefined();
    expect(r.counts).toMatchObject({ read: 60, added: 1, changed: 0, inserted: 1, unchanged: 59, sent: 1 });
    expect(await count()).toBe(60);
    expect(await writes()).toEqual({ INSERT: 1 });
  });

  it('step 3: upsert sends one update and one insert', async () => {
    await change([{ update: ['Justania', 'JA'] }, { insert: ['Justintucky', 'JK'] }]);
    const r = await runPipeline(pipeline('upsert'));
    expect(r.error).toBeUndefined();
    expect(r.counts).toMatchObject({ read: 61, added: 1, changed: 1, inserted: 1, updated: 1, unchanged: 59, sent: 2 });
    expect((await dest.query(`SELECT abbreviation FROM ${table} WHERE name = 'Justania'`)).rows).toEqual([{ abbreviation: 'JA' }]);
    expect(await count()).toBe(61);
    expect(await writes()).toEqual({ INSERT: 1, UPDATE: 1 });
  });

  it('step 4: mirror deletes the row deleted in the source', async () => {
    await change([{ delete: 'Justintucky' }]);
    const r = await runPipeline(pipeline('mirror'));
    expect(r.error).toBeUndefined();
    expect(r.counts).toMatchObject({ read: 60, removed: 1, deleted: 1, sent: 0 });
    expect(await count()).toBe(60);
    expect((await dest.query(`SELECT count(*)::int AS n FROM ${table} WHERE name = 'Justintucky'`)).rows).toEqual([{ n: 0 }]);
    expect(await writes()).toEqual({ DELETE: 1 });
    if (source.fake) {
      // Four runs, each one query job (canned per step); nothing ran as SQL in the fake.
      expect(source.fake.requests('jobs.query').map((q) => (q.body as { query: string }).query)).toHaveLength(4);
      expect(source.fake.requests().every((q) => q.path.startsWith(`/bigquery/v2/projects/${BIGQUERY_PROJECT}/`))).toBe(true);
    }
  });
});
