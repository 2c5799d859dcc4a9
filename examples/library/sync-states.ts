// outflow as a library: a pipeline defined in TypeScript, run, then checked.
// Run it from a project that has outflow installed (`npm install outflow`).
import { definePipeline, runPipeline, verifyPipeline } from 'outflow';

const pipeline = definePipeline({
  name: 'states_from_code',
  source: {
    type: 'duckdb',
    setup: `CREATE TABLE states AS SELECT * FROM (VALUES ('Ohio', 'OH'), ('Utah', 'UT')) AS t(name, abbreviation)`,
  },
  model: { table: 'states' },
  destination: { type: 'pglite', path: '.outflow/pglite', table: 'states' },
  primary_key: 'name',
  mode: 'upsert',
});

const run = await runPipeline(pipeline);
console.log(`run ${run.runNumber}: ${run.status}, inserted ${run.counts.inserted}`);
const check = await verifyPipeline(pipeline);
console.log(check.equal ? 'destination matches the model' : 'destination differs');
if (run.status !== 'success' || !check.equal) process.exitCode = 1;
