import { execFileSync } from 'node:child_process';
import { appendFileSync, cpSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCli, CLI, removeCliBuild, runCli } from '../support/cli-process.js';
import { PG_URL, tempDir, uniqueName } from '../support/databases.js';
import { loadPipeline } from '../../src/config/load-pipeline.js';

const ROOT = resolve(__dirname, '../..');
const EXAMPLES = join(ROOT, 'examples');
// Each test's Postgres tables go to a schema of its own: the pipelines run as written, with
// unqualified table names, and DATABASE_URL's search_path points them there.
const schema = uniqueName('examples');
const env = { DATABASE_URL: `${PG_URL}?options=${encodeURIComponent(`-c search_path=${schema}`)}` };
const client = new pg.Client({ connectionString: PG_URL });

beforeAll(async () => {
  buildCli();
  await client.connect();
  await client.query(`CREATE SCHEMA "${schema}"`);
});
afterAll(async () => {
  await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await client.end();
  removeCliBuild();
});

function exampleFiles(dir = EXAMPLES): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) =>
    d.name.startsWith('.') ? [] : d.isDirectory() ? exampleFiles(join(dir, d.name)) : /\.ya?ml$/.test(d.name) ? [join(dir, d.name)] : [],
  );
}

/** Every ```yaml block of README.md that is a pipeline. */
function readmePipelines(): string[] {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  return [...readme.matchAll(/```ya?ml\n([\s\S]*?)```/g)].map((m) => m[1]).filter((b) => /^source:/m.test(b));
}

/** A fresh copy of the example's folder (its CSV and files, none of its state), so the run starts from nothing. */
function freshCopy(file: string): string {
  const dir = tempDir('outflow-example-');
  cpSync(dirname(file), dir, { recursive: true, filter: (src) => !/[/\\]\.(outflow|demo)$/.test(src) });
  return join(dir, basename(file));
}

const json = (stdout: string) => JSON.parse(stdout) as { status: string; runNumber: number; counts: Record<string, number>; warnings?: string[]; error?: string };

describe('every pipeline in README.md runs as written', () => {
  it('README has pipelines, and one that names an example file is that file, word for word', () => {
    const blocks = readmePipelines();
    expect(blocks.length).toBeGreaterThan(0);
    for (const block of blocks) {
      const named = /^# (examples\/\S+\.ya?ml)\n/.exec(block)?.[1];
      if (named) expect(block).toBe(readFileSync(join(ROOT, named), 'utf8'));
    }
  });

  it('README\'s TypeScript example is examples/library/sync-states.ts word for word (test/library runs it against the packed tarball)', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]);
    expect(blocks).toEqual([readFileSync(join(EXAMPLES, 'library', 'sync-states.ts'), 'utf8')]);
  });

  it.each(readmePipelines().filter((b) => !/^# examples\//.test(b)).map((b, i) => [i, b]))('README pipeline %i validates and runs', async (_, block) => {
    const file = join(dirname(freshCopy(join(EXAMPLES, 'us-states', 'pipeline.yaml'))), 'readme.yaml');
    writeFileSync(file, block as string);
    const v = await runCli(['--json', 'validate', file], env);
    expect(v.code, v.stdout + v.stderr).toBe(0);
    expect(json(v.stdout).warnings).toEqual([]);
    const r = await runCli(['--json', 'run', file], env);
    expect(r.code, r.stdout + r.stderr).toBe(0);
  });
});

// Examples that need Google stand-ins run in a test of their own, from the CLI, as written.
const RUN_ELSEWHERE: Record<string, string> = { 'bigquery-to-cloudsql/pipeline.yaml': 'test/examples/bigquery-to-cloudsql.test.ts' };

it('examples that need Google stand-ins have a test of their own that runs them', () => {
  for (const [example, test] of Object.entries(RUN_ELSEWHERE)) {
    expect(readFileSync(join(ROOT, test), 'utf8')).toContain(example.split('/')[0]);
  }
});

describe.each(exampleFiles().filter((f) => !(relative(EXAMPLES, f) in RUN_ELSEWHERE)).map((f) => [relative(EXAMPLES, f), f]))('example %s', (_, original) => {
  it('validates with no warnings, runs from a fresh folder at run 1, and picks up an edit to its CSV', async () => {
    const file = freshCopy(original);
    const csv = join(dirname(file), 'state_abbreviations.csv');
    const rows = readFileSync(csv, 'utf8').trim().split('\n').length - 1;
    const v = await runCli(['--json', 'validate', file], env);
    expect(v.code, v.stdout + v.stderr).toBe(0);
    expect(json(v.stdout).warnings).toEqual([]);
    const first = await runCli(['--json', 'run', file], env);
    expect(first.code, first.stdout + first.stderr).toBe(0);
    expect(json(first.stdout)).toMatchObject({ status: 'success', runNumber: 1, counts: { inserted: rows } });
    appendFileSync(csv, 'Atlantis,AT\n');
    const second = json((await runCli(['--json', 'run', file], env)).stdout);
    expect(second).toMatchObject({ status: 'success', runNumber: 2, counts: { added: 1, inserted: 1, read: rows + 1 } });
  });
});

describe('the demo stands alone', () => {
  it('keeps its own warehouse and state: an example run before and after it counts 1, 2 and sees only the CSV', { timeout: 600_000 }, async () => {
    const file = freshCopy(join(EXAMPLES, 'us-states', 'pipeline.yaml'));
    const rows = readFileSync(join(dirname(file), 'state_abbreviations.csv'), 'utf8').trim().split('\n').length - 1;
    expect(json((await runCli(['--json', 'run', file])).stdout)).toMatchObject({ runNumber: 1, counts: { inserted: rows } });
    // The demo, run against this copy of the example folder, adds and removes states in its own warehouse.
    const demo = execFileSync(process.execPath, [join(dirname(CLI), '../../examples/demo.js'), dirname(file)], { encoding: 'utf8' });
    expect(demo).toMatch(/verify: model 60 rows, destination 60 rows: equal/);
    const after = json((await runCli(['--json', 'run', file])).stdout);
    expect(after).toMatchObject({ status: 'success', runNumber: 2, counts: { read: rows, added: 0, changed: 0, removed: 0 } });
    const stateDirs = [file, join(dirname(file), 'pipeline.postgres.yaml')].map((f) => loadPipeline(f, { env: { DATABASE_URL: 'postgres://x@h/d' } }).stateDir);
    expect(new Set([...stateDirs, join(dirname(file), '.demo')]).size).toBe(3);
  });
});
