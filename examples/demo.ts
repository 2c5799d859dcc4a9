/**
 * `npm run demo`: the US-states reference scenario, DuckDB → embedded Postgres (PGlite),
 * with no server. Each step changes the warehouse, runs the pipeline and prints its report.
 * The demo works in its own folder (examples/us-states/.demo/: a warehouse it edits, its run
 * history, snapshot and embedded Postgres), so it never shares state with the example
 * pipelines beside it. Its pipeline is defined in TypeScript, as a library user would.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { definePipeline, runPipeline, previewPipeline, verifyPipeline, type Pipeline, type SyncMode } from '../src/index.js';
import { Reporter } from '../src/cli/reporter.js';
import { printRun } from '../src/cli/run-command.js';

const examples = resolve(process.argv[2] ?? join(import.meta.dirname, '..', '..', 'examples', 'us-states'));
const dir = join(examples, '.demo');
const reporter = new Reporter(false, false);

const pipeline = (): Pipeline =>
  definePipeline(
    {
      name: 'us_states_demo',
      source: { type: 'duckdb', path: 'warehouse.duckdb' },
      model: { table: 'state_abbreviations' },
      destination: { type: 'pglite', path: 'pglite', table: 'state_abbreviations' },
      primary_key: 'name',
      state: { dir: '.' },
    },
    { baseDir: dir },
  );

async function warehouse(sql: string[]): Promise<void> {
  const instance = await DuckDBInstance.create(join(dir, 'warehouse.duckdb'));
  const c = await instance.connect();
  for (const s of sql) await c.run(s);
  c.closeSync();
  instance.closeSync();
}

function withMode(p: Pipeline, mode: SyncMode): Pipeline {
  return { ...p, spec: { ...p.spec, mode } };
}

async function step(title: string, sql: string[], mode: SyncMode): Promise<void> {
  reporter.line(`\n== ${title}`);
  for (const s of sql) reporter.line(`   warehouse> ${s}`);
  if (sql.length) await warehouse(sql);
  const p = withMode(pipeline(), mode);
  const r = await runPipeline(p, { trigger: 'demo' });
  printRun(r, reporter);
  if (r.status !== 'success') throw new Error(`step failed: ${r.error}`);
}

async function main(): Promise<void> {
  // Start from scratch so the demo shows the same story every time.
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  reporter.line(`outflow demo in ${dir} (DuckDB warehouse → embedded Postgres)`);
  await warehouse([`CREATE TABLE state_abbreviations AS SELECT * FROM read_csv('${join(examples, 'state_abbreviations.csv')}')`]);
  await step('step 1: load 59 states and sync (insert_new)', [], 'insert_new');
  await step('step 2: a new state appears (insert_new)', [`INSERT INTO state_abbreviations VALUES ('Justania', 'JT')`], 'insert_new');
  await step(
    'step 3: one state changes, one appears (upsert)',
    [`UPDATE state_abbreviations SET abbreviation = 'JA' WHERE name = 'Justania'`, `INSERT INTO state_abbreviations VALUES ('Justintucky', 'JK')`],
    'upsert',
  );
  await step('step 4: nothing changed (upsert)', [], 'upsert');
  reporter.line(`\n== step 5: a state leaves the model; preview first, then mirror`);
  await warehouse([`DELETE FROM state_abbreviations WHERE name = 'Justintucky'`]);
  const pv = await previewPipeline(withMode(pipeline(), 'mirror'));
  reporter.line(`   preview: would insert ${pv.planned?.wouldInsert}, update ${pv.planned?.wouldUpdate}, delete ${pv.planned?.wouldDelete}`);
  await step('step 5: mirror', [], 'mirror');
  const v = await verifyPipeline(pipeline());
  reporter.line(`\n== verify: model ${v.modelRows} rows, destination ${v.destinationRows} rows: ${v.equal ? 'equal' : 'NOT equal'}`);
  reporter.line(`\nthe same scenario as a pipeline file: npm run outflow -- run ${join(examples, 'pipeline.yaml')}`);
  if (!v.equal) process.exitCode = 1;
}

main().catch((e) => {
  reporter.error((e as Error).message);
  process.exitCode = 1;
});
