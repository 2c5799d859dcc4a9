import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { buildCli, removeCliBuild, runCli } from '../support/cli-process.js';
import { PG_URL, tempDir, uniqueName, writeFile } from '../support/databases.js';
import { parsePipeline } from '../../src/config/load-pipeline.js';
import { pipelineJsonSchema } from '../../src/config/pipeline-json-schema.js';
import { DESTINATION_TEMPLATES, pipelineTemplate, SOURCE_TEMPLATES } from '../../src/cli/init-templates.js';

const client = new pg.Client({ connectionString: PG_URL });
const table = uniqueName('cli_list');
beforeAll(async () => {
  buildCli();
  await client.connect();
});
afterAll(async () => {
  await client.query(`DROP TABLE IF EXISTS "${table}"`);
  await client.end();
  removeCliBuild();
});

describe('outflow init', () => {
  it('writes a commented pipeline that validates as written (duckdb → pglite, with a sample CSV), and will not overwrite it', async () => {
    const dir = tempDir('outflow-init-');
    const file = join(dir, 'customers.yaml');
    const init = await runCli(['init', file]);
    expect(init.code).toBe(0);
    expect(readFileSync(file, 'utf8')).toMatch(/^# outflow pipeline/);
    const v = await runCli(['validate', file]);
    expect(v.stderr).toBe('');
    expect(v.code).toBe(0);
    expect(v.stdout).toMatch(/valid$/m);
    const again = await runCli(['init', file]);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/exists; pass --force/);
    expect((await runCli(['init', join(dir, 'x.yaml'), '--source', 'oracle'])).code).toBe(2);
  });

  it('has a template for every source and destination type the schema accepts', () => {
    const types = (field: 'source' | 'destination') =>
      (pipelineJsonSchema().properties![field].oneOf as { properties: { type: { const: string } } }[]).map((o) => o.properties.type.const).sort();
    expect(Object.keys(SOURCE_TEMPLATES).sort()).toEqual(types('source'));
    expect(Object.keys(DESTINATION_TEMPLATES).sort()).toEqual(types('destination'));
  });

  it('every source × destination template parses as written', () => {
    const env = { WAREHOUSE_URL: 'postgres://u@h/db', DATABASE_URL: 'postgres://u@h/db', MYSQL_URL: 'mysql://u@h/db', REDIS_URL: 'redis://h:6379/0', API_TOKEN: 't', GCP_PROJECT: 'p', GOOGLE_APPLICATION_CREDENTIALS: '/k.json' };
    for (const s of Object.keys(SOURCE_TEMPLATES)) {
      for (const d of Object.keys(DESTINATION_TEMPLATES)) {
        const p = parsePipeline(pipelineTemplate('p', s, d), '/tmp/p.yaml', { env });
        expect(p.spec.source.type).toBe(s);
        expect(p.spec.destination.type).toBe(d);
      }
    }
  });
});

describe('outflow list', () => {
  it('lists pipelines in a folder with validity and last run; an invalid file exits 2', async () => {
    const dir = tempDir('outflow-list-');
    writeFile(
      join(dir, 'good.yaml'),
      `source: { type: duckdb, setup: "CREATE TABLE t AS SELECT 1 AS id" }\nmodel: { table: t }\ndestination: { type: postgres, url: "\${OUTFLOW_TEST_PG_URL}", table: ${table} }\nprimary_key: id\nstate: { dir: .outflow }\n`,
    );
    writeFile(join(dir, 'bad.yaml'), `source: { type: duckdb }\nmodel: { table: t }\n`);
    const env = { OUTFLOW_TEST_PG_URL: PG_URL };
    expect((await runCli(['run', join(dir, 'good.yaml')], env)).code).toBe(0);
    const r = await runCli(['--json', 'list', dir], env);
    expect(r.code).toBe(2);
    const listed = JSON.parse(r.stdout) as { name: string; valid: boolean; error?: string; lastRun?: { id: number; status: string } }[];
    expect(listed.map((p) => [p.name, p.valid])).toEqual([
      ['bad', false],
      ['good', true],
    ]);
    expect(listed[0].error).toMatch(/destination: required/);
    expect(listed[1].lastRun).toMatchObject({ id: 1, status: 'success' });
    const text = await runCli(['list', dir], env);
    expect(text.stdout).toMatch(/good\s+good\.yaml\s+yes\s+run 1 success/);
  });
});

describe('outflow schema', () => {
  it('prints the JSON Schema of pipeline files, generated from the config schema', async () => {
    const r = await runCli(['schema']);
    expect(r.code).toBe(0);
    const schema = JSON.parse(r.stdout);
    expect(schema.$schema).toMatch(/json-schema\.org/);
    expect(schema.additionalProperties).toBe(false);
    expect(schema.required).toEqual(expect.arrayContaining(['source', 'model', 'destination', 'primary_key']));
    expect(schema.properties.mode.enum).toEqual(['insert', 'insert_new', 'upsert', 'update', 'mirror', 'replace']);
    expect(schema.properties.source.oneOf.map((o: { properties: { type: { const: string } } }) => o.properties.type.const)).toEqual(
      expect.arrayContaining(['duckdb', 'postgres', 'mysql', 'files', 'bigquery']),
    );
  });
});
