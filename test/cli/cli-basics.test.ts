import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { buildCli, removeCliBuild, runCli } from '../support/cli-process.js';
import { PG_URL, tempDir, uniqueName, writeFile } from '../support/databases.js';

const dir = tempDir('outflow-cli-basics-');
const env = { OUTFLOW_TEST_PG_URL: PG_URL, OUTFLOW_STATE_DIR: join(dir, 'state') };
const client = new pg.Client({ connectionString: PG_URL });
const tables: string[] = [];

beforeAll(async () => {
  buildCli();
  await client.connect();
});
afterAll(async () => {
  for (const t of tables) await client.query(`DROP TABLE IF EXISTS "${t}"`);
  await client.end();
  removeCliBuild();
});

function pipeline(name: string, opts: { model?: string; createTable?: boolean; extra?: string } = {}): { file: string; table: string } {
  const table = uniqueName('cli');
  tables.push(table);
  const file = writeFile(
    join(dir, `${name}.yaml`),
    `name: ${name}
source:
  type: duckdb
  path: ":memory:"
  setup: CREATE TABLE items AS SELECT i::INTEGER AS id, 'v' || i AS v FROM range(1, 4) t(i)
model:
${opts.model ?? '  table: items'}
destination:
  type: postgres
  url: \${OUTFLOW_TEST_PG_URL}
  table: ${table}
  create_table: ${opts.createTable ?? true}
primary_key: id
${opts.extra ?? ''}`,
  );
  return { file, table };
}

describe('outflow on the command line', () => {
  it('--version prints the package version; usage errors exit 2', async () => {
    const v = await runCli(['--version']);
    expect(v.code).toBe(0);
    expect(v.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
    const unknown = await runCli(['run', 'x.yaml', '--no-such-option']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown option '--no-such-option'/);
    const missing = await runCli(['run']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/missing required argument 'pipeline'/);
    expect((await runCli(['frobnicate'])).code).toBe(2);
  });

  it('each command\'s --help shows --json, --verbose and --state-dir', async () => {
    for (const cmd of ['validate', 'preview', 'run', 'runs', 'verify', 'serve']) {
      const h = await runCli([cmd, '--help']);
      expect(h.code, cmd).toBe(0);
      expect(h.stdout, cmd).toMatch(/--json/);
      expect(h.stdout, cmd).toMatch(/--verbose/);
      expect(h.stdout, cmd).toMatch(/--state-dir/);
    }
  });

  it('--json run prints one JSON document, for a failed run too', async () => {
    const bad = pipeline('json_fail', { extra: `actions:\n  after:\n    - name: boom\n      sql: SELECT no_such_function()\n` });
    const r = await runCli(['--json', 'run', bad.file], env);
    expect(r.code).toBe(1);
    const doc = JSON.parse(r.stdout);
    expect(doc.status).toBe('failed');
    expect(doc.error).toMatch(/action "boom"/);
    const ok = pipeline('json_ok');
    const r2 = await runCli(['run', ok.file, '--json'], env);
    expect(r2.code).toBe(0);
    expect(JSON.parse(r2.stdout).counts.inserted).toBe(3);
  });

  it('a missing table with create_table: false exits 2 from every command', async () => {
    const p = pipeline('no_table', { createTable: false });
    for (const cmd of ['validate', 'preview', 'run', 'verify']) {
      const r = await runCli(['--json', cmd, p.file], env);
      expect(r.code, cmd).toBe(2);
      expect(JSON.parse(r.stdout).error, cmd).toMatch(/does not exist/);
    }
  });

  it('a DuckDB model SQL error exits 2, names the file, source and model, and points into the user\'s SQL', async () => {
    const p = pipeline('bad_sql', { model: '  query: |\n    SELECT id,\n           v\n    FORM items' });
    for (const cmd of ['validate', 'run']) {
      const r = await runCli([cmd, p.file], env);
      expect(r.code, cmd).toBe(2);
      expect(r.stderr).toMatch(/bad_sql\.yaml: model\.query \(source duckdb\)/);
      expect(r.stderr).toMatch(/FORM items/);
      // DuckDB's caret points into the user's query, not outflow's wrapper around it.
      expect(r.stderr).not.toMatch(/DESCRIBE|AS model/);
    }
  });

  it('--state-dir is honoured by preview, verify and runs, not only run', async () => {
    const p = pipeline('state_dir');
    const state = join(dir, 'elsewhere');
    expect((await runCli(['run', p.file, '--state-dir', state], env)).code).toBe(0);
    const pv = await runCli(['--json', 'preview', p.file, '--state-dir', state], env);
    expect(JSON.parse(pv.stdout).syncKind).toBe('incremental');
    const runs = await runCli(['--json', 'runs', p.file, '--state-dir', state], env);
    expect(JSON.parse(runs.stdout)).toHaveLength(1);
    const none = await runCli(['--json', 'runs', p.file], env);
    expect(JSON.parse(none.stdout)).toHaveLength(0);
  });
});
