/**
 * `npm run bench:workers [-- --rows 2000000 --diff-rows 5000000 --partitions 12]`
 *
 * Scale-out figures (docs/scale.md), on a Postgres warehouse syncing into Postgres in the same server:
 *
 * 1. Full sync of `--rows` rows with `diff: warehouse`, delivered in the run's own process and
 *    by 1, 2 and 3 `outflow worker` processes (pg-boss in the state database), beside
 *    `psql \copy` of the same rows into the same table — the destination's own bulk tool.
 *    On a 2-core machine the machine is the ceiling: more workers share the same two cores
 *    with Postgres (which also runs the warehouse's side).
 * 2. `--diff-rows` rows with 1% changed: an incremental run with the warehouse-side diff
 *    against the local (in-DuckDB) diff, after a full sync of each.
 *
 * Wall time of the `outflow run` process (it waits for the workers), rows/s, ratio to
 * psql \copy; results also in bench/results/<time>-workers.json.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { timed } from './bench-process.js';

const here = dirname(fileURLToPath(import.meta.url));
const CLI = resolve(here, '../src/cli/main.js');
const benchDir = resolve(here, '../../bench');
const PG_URL = process.env.OUTFLOW_BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}

const ROWS = Number(arg('rows', '2000000'));
const DIFF_ROWS = Number(arg('diff-rows', '5000000'));
const PARTITIONS = Number(arg('partitions', '12'));
const schema = `bench_wk_${process.pid}`;
const stateSchema = `bench_wkstate_${process.pid}`;
const STATE_URL = `${PG_URL}?schema=${stateSchema}`;
const dir = mkdtempSync(join(tmpdir(), 'outflow-bench-workers-'));
const db = new pg.Client({ connectionString: PG_URL });

interface Row {
  label: string;
  rows: number;
  ms: number;
  rowsPerSec: number;
  ratio?: number;
  peakRssMb: number;
  note?: string;
}

function pipeline(name: string, model: string, target: string, opts: { diff: 'local' | 'warehouse'; workers: boolean }): string {
  const file = join(dir, `${name}.yaml`);
  writeFileSync(
    file,
    `name: ${name}
source:
  type: postgres
  url: ${PG_URL}
model:
  table: ${model}
destination:
  type: postgres
  url: ${PG_URL}
  table: ${target}
primary_key: id
mode: upsert
diff: ${opts.diff}
${opts.diff === 'warehouse' ? `state_schema: ${stateSchema}_wh\npartitions: ${PARTITIONS}\n` : ''}workers: ${opts.workers}
state:
  dir: ${join(dir, 'state')}
  url: ${STATE_URL}
timeouts:
  partition: 30m
`,
  );
  return file;
}

function startWorkers(n: number): ChildProcess[] {
  return Array.from({ length: n }, () =>
    spawn(process.execPath, [CLI, 'worker', dir, '--state-url', STATE_URL], { stdio: 'ignore' }),
  );
}

async function stopWorkers(ws: ChildProcess[]): Promise<void> {
  await Promise.all(
    ws.map(
      (w) =>
        new Promise<void>((ok) => {
          if (w.exitCode !== null) return ok();
          w.on('close', () => ok());
          w.kill('SIGTERM');
        }),
    ),
  );
}

function outflowRun(file: string): { ms: number; peakRssMb: number; report: { status: string; counts: Record<string, number>; error?: string } } {
  const m = timed(process.execPath, [CLI, '--json', 'run', file]);
  const report = JSON.parse(m.output.slice(m.output.indexOf('{')));
  if (report.status !== 'success') throw new Error(`outflow run ${file}: ${report.status}: ${report.error}`);
  return { ms: m.ms, peakRssMb: m.peakRssMb, report };
}

async function resetTarget(target: string): Promise<void> {
  await db.query(`DROP TABLE IF EXISTS ${target}`);
  await db.query(`DROP SCHEMA IF EXISTS ${stateSchema}_wh CASCADE`);
  rmSync(join(dir, 'state'), { recursive: true, force: true });
}

async function makeModel(table: string, rows: number): Promise<void> {
  await db.query(
    `CREATE TABLE ${table} AS SELECT i::bigint AS id, 'customer ' || i AS name, 'c' || i || '@example.com' AS email, (i % 1000)::integer AS v,
       timestamptz '2026-01-01' + i * interval '1 second' AS updated_at FROM generate_series(1, ${rows}) AS i`,
  );
  await db.query(`ALTER TABLE ${table} ADD PRIMARY KEY (id)`);
}

async function main(): Promise<void> {
  await db.connect();
  await db.query(`CREATE SCHEMA ${schema}`);
  const rows: Row[] = [];
  try {
    console.log(`bench: workers — ${ROWS.toLocaleString('en')} rows, ${PARTITIONS} partitions; ${cpus().length} cores, load ${loadavg()[0].toFixed(2)}`);
    await makeModel(`${schema}.model`, ROWS);
    // The destination's own bulk tool on the same rows: psql \copy into an empty table with the same key.
    const csv = join(dir, 'model.csv');
    spawnSync('psql', [PG_URL, '-qc', `\\copy (SELECT * FROM ${schema}.model) TO '${csv}' CSV`], { stdio: 'inherit' });
    await db.query(`CREATE TABLE ${schema}.copy_target (LIKE ${schema}.model INCLUDING ALL)`);
    const copy = timed('psql', [PG_URL, '-qc', `\\copy ${schema}.copy_target FROM '${csv}' CSV`]);
    const limit = { label: 'psql \\copy (limit)', rows: ROWS, ms: copy.ms, rowsPerSec: (ROWS / copy.ms) * 1000, ratio: 1, peakRssMb: copy.peakRssMb };
    rows.push(limit);
    for (const n of [0, 1, 2, 3]) {
      const target = `${schema}.target`;
      await resetTarget(target);
      const ws = startWorkers(n);
      try {
        if (n) await new Promise((r) => setTimeout(r, 3_000)); // workers ready
        const file = pipeline('bench_wk', `${schema}.model`, target, { diff: 'warehouse', workers: n > 0 });
        const r = outflowRun(file);
        rows.push({
          label: n ? `outflow run, ${n} worker${n > 1 ? 's' : ''}` : 'outflow run, in process',
          rows: r.report.counts.sent,
          ms: r.ms,
          rowsPerSec: (ROWS / r.ms) * 1000,
          ratio: limit.ms / r.ms,
          peakRssMb: r.peakRssMb,
          note: n ? 'peak RSS: the run process only' : undefined,
        });
        console.log(`  ${rows[rows.length - 1].label}: ${(r.ms / 1000).toFixed(1)} s`);
      } finally {
        await stopWorkers(ws);
      }
    }
    // Warehouse diff against the local diff: DIFF_ROWS rows, 1% changed.
    await makeModel(`${schema}.big`, DIFF_ROWS);
    for (const diff of ['local', 'warehouse'] as const) {
      const target = `${schema}.big_target_${diff}`;
      await resetTarget(target);
      const file = pipeline(`bench_diff_${diff}`, `${schema}.big`, target, { diff, workers: false });
      const full = outflowRun(file);
      rows.push({ label: `${diff} diff, full sync`, rows: DIFF_ROWS, ms: full.ms, rowsPerSec: (DIFF_ROWS / full.ms) * 1000, peakRssMb: full.peakRssMb });
      await db.query(`UPDATE ${schema}.big SET v = v + 1 WHERE id % 100 = 0`);
      const inc = outflowRun(file);
      rows.push({
        label: `${diff} diff, 1% changed`,
        rows: inc.report.counts.sent,
        ms: inc.ms,
        rowsPerSec: (DIFF_ROWS / inc.ms) * 1000,
        peakRssMb: inc.peakRssMb,
        note: `sent ${inc.report.counts.sent}`,
      });
      // The other diff sees the same change against its own fresh snapshot.
      await db.query(`UPDATE ${schema}.big SET v = v - 1 WHERE id % 100 = 0`);
      console.log(`  ${diff} diff: full ${(full.ms / 1000).toFixed(1)} s, 1% changed ${(inc.ms / 1000).toFixed(1)} s`);
    }
  } finally {
    for (const s of [schema, stateSchema, `${stateSchema}_queue`, `${stateSchema}_wh`]) await db.query(`DROP SCHEMA IF EXISTS ${s} CASCADE`).catch(() => undefined);
    await db.end();
    rmSync(dir, { recursive: true, force: true });
  }
  console.log('');
  console.log('| method | rows | wall | rows/s | × psql \\copy | peak RSS |');
  console.log('|---|---|---|---|---|---|');
  for (const r of rows) {
    console.log(
      `| ${r.label} | ${r.rows.toLocaleString('en')} | ${(r.ms / 1000).toFixed(1)} s | ${Math.round(r.rowsPerSec).toLocaleString('en')} | ${r.ratio === undefined ? '—' : `${r.ratio.toFixed(2)}×`} | ${Math.round(r.peakRssMb)} MB |`,
    );
  }
  mkdirSync(join(benchDir, 'results'), { recursive: true });
  const stamp = new Date().toISOString().replace(/[:T]/g, '-').slice(0, 19);
  writeFileSync(join(benchDir, 'results', `${stamp}-workers.json`), JSON.stringify({ rows: ROWS, diffRows: DIFF_ROWS, partitions: PARTITIONS, loadavg: loadavg(), results: rows }, null, 2));
}

await main();
