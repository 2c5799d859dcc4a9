/**
 * `npm run bench [-- --rows N --runs 3 --only full,incremental --profile --destination pglite|mysql]`
 *
 * Loads one deterministic "customer insights" model (bench/customer-model.ts) into the
 * same table definition in several ways and prints, per method, the median wall time of
 * `runs` runs, rows/s, the ratio to the destination's own bulk loader from a CSV of the
 * same rows (`psql \copy` for Postgres, PGlite's `COPY … FROM '/dev/blob'`, the `mysql` client's
 * `LOAD DATA LOCAL INFILE`: the limit)
 * and the peak RSS of the loading process. Results go to bench/results/.
 *
 * What differs per destination (how the table is made and counted, the limit line, which
 * methods apply) is one entry of DESTINATIONS (bench/bench-destinations.ts).
 *
 * Every outflow run happens in a child process (bench-child.ts) so that its peak RSS is
 * its own. The Postgres table is dropped and created again (logged, with its primary key)
 * before every load into an empty target, and a CHECKPOINT runs before each measured load
 * so one method's dirty pages are not flushed during the next one's clock.
 */
import { spawnSync } from 'node:child_process';
import { cpus, totalmem, tmpdir } from 'node:os';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DuckDBInstance } from '@duckdb/node-api';
import { changeSql, modelRowsSql } from './customer-model.js';
import { DESTINATIONS, PG_URL, TABLE, type BenchDestination, type Method } from './bench-destinations.js';
import { child, timed, type Measurement } from './bench-process.js';

const here = dirname(fileURLToPath(import.meta.url));
/** bench/ in the source tree (dist/bench/ → ../../bench). */
const benchDir = resolve(here, '../../bench');

interface Options {
  rows: number;
  runs: number;
  only: Set<Method>;
  profile: boolean;
  destination: string;
}

interface MethodResult {
  method: Method;
  label: string;
  rows: number;
  runs: Measurement[];
  medianMs: number;
  rowsPerSec: number;
  /** Ratio to the destination's own bulk load (psql \copy for Postgres; the key keeps its old name). */
  ratioToPsql?: number;
  peakRssMb: number;
  note?: string;
}

const LABELS: Record<Method, string> = {
  psql: 'psql \\copy from CSV (the limit)',
  pglite_copy: "PGlite's own COPY FROM '/dev/blob' of the CSV (the limit)",
  mysql_load: 'mysql client LOAD DATA LOCAL INFILE from CSV (the limit)',
  full: 'outflow full sync (empty target)',
  incremental: 'outflow incremental (1% changed, 0.1% added)',
  floor: 'Postgres alone: UPDATE the same 1% in place (the floor)',
  unchanged: 'outflow run, nothing changed',
  verify: 'outflow verify (whole table read back and compared)',
  naive: 'naive multi-row INSERT (1,000 rows, pg)',
  pgloader: 'pgloader from the CSV',
};

function parseArgs(argv: string[]): Options {
  const get = (name: string) => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const only = get('only');
  const destination = get('destination') ?? 'postgres';
  if (!DESTINATIONS[destination]) throw new Error(`--destination ${destination}: expected one of ${Object.keys(DESTINATIONS).join(', ')}`);
  return {
    rows: Number((get('rows') ?? '1000000').replace(/[_,]/g, '')),
    runs: Number(get('runs') ?? '3'),
    only: new Set((only ? only.split(',') : Object.keys(LABELS)) as Method[]),
    profile: argv.includes('--profile'),
    destination,
  };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

async function duckdb(path: string, sql: string[]): Promise<void> {
  const instance = await DuckDBInstance.create(path);
  const c = await instance.connect();
  try {
    await c.run(`SET TimeZone = 'UTC'`);
    for (const s of sql) await c.run(s);
  } finally {
    c.closeSync();
    instance.closeSync();
  }
}

async function duckdbValue(path: string, sql: string): Promise<number> {
  const instance = await DuckDBInstance.create(path);
  const c = await instance.connect();
  try {
    return Number((await c.runAndReadAll(sql)).getRows()[0][0]);
  } finally {
    c.closeSync();
    instance.closeSync();
  }
}

function machine(engineVersion: string) {
  const cpu = cpus();
  return {
    cpu: cpu[0]?.model ?? 'unknown',
    cores: cpu.length,
    memoryGb: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    postgres: engineVersion,
  };
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  const work = mkdtempSync(join(tmpdir(), 'outflow-bench-'));
  const warehouse = join(work, 'warehouse.duckdb');
  const csv = join(work, 'customers.csv');
  const stateDir = join(work, 'state');
  const profileDir = opts.profile ? join(benchDir, 'results', 'profiles') : undefined;
  const dest: BenchDestination = await DESTINATIONS[opts.destination](work);
  Object.assign(LABELS, dest.labels);
  // Only the methods this destination can measure (floor, naive and pgloader are Postgres's).
  for (const method of [...opts.only]) if (!dest.methods.has(method)) opts.only.delete(method);
  const m = machine(await dest.version());
  console.log(`machine: ${m.cpu}, ${m.cores} cores, ${m.memoryGb} GB, Node ${m.node}, ${dest.engine} ${m.postgres}`);
  console.log(`model: ${opts.rows.toLocaleString('en')} rows, ${opts.runs} runs per method, work dir ${work}`);

  const results: MethodResult[] = [];
  const { recreate, count } = dest;
  const expectRows = async (n: number, what: string) => {
    const got = await count();
    if (got !== n) throw new Error(`${what}: the table holds ${got} rows, expected ${n}`);
  };
  const record = (method: Method, runs: Measurement[], note?: string) => {
    const medianMs = median(runs.map((r) => r.ms));
    const rows = runs[0].rows;
    const r: MethodResult = {
      method,
      label: LABELS[method],
      rows,
      runs,
      medianMs,
      rowsPerSec: rows / (medianMs / 1000),
      peakRssMb: Math.max(...runs.map((x) => x.peakRssMb)),
      note,
    };
    results.push(r);
    console.log(`  ${LABELS[method]}: median ${(medianMs / 1000).toFixed(2)} s, ${Math.round(r.rowsPerSec).toLocaleString('en')} rows/s, peak RSS ${Math.round(r.peakRssMb)} MB`);
  };

  try {
    console.log('generating the model…');
    await duckdb(warehouse, [
      `CREATE TABLE customers AS ${modelRowsSql(1, opts.rows)}`,
      `COPY (${dest.csvSelect ?? 'SELECT * FROM customers'}) TO '${csv}' (${dest.csvOptions ?? 'FORMAT csv, HEADER false'})`,
    ]);
    const pipelineFile = join(work, 'pipeline.yaml');
    writeFileSync(
      pipelineFile,
      `name: bench_customers
source:
  type: duckdb
  path: ${warehouse}
  read_only: true
model:
  table: customers
${dest.yaml}primary_key: id
mode: upsert
state:
  dir: ${stateDir}
`,
    );

    if (opts.only.has(dest.limit)) {
      console.log(`${LABELS[dest.limit]}…`);
      const runs: Measurement[] = [];
      for (let i = 0; i < opts.runs; i++) {
        await recreate();
        const r = await dest.loadCsv(csv);
        await expectRows(opts.rows, LABELS[dest.limit]);
        runs.push({ ms: r.ms, peakRssMb: r.peakRssMb, rows: opts.rows });
      }
      record(dest.limit, runs);
    }

    const wantsOutflow = ['full', 'incremental', 'unchanged', 'floor', 'verify'].some((m) => opts.only.has(m as Method));
    if (wantsOutflow) {
      console.log('outflow full sync…');
      const runs: Measurement[] = [];
      const fullRuns = opts.only.has('full') ? opts.runs : 1;
      for (let i = 0; i < fullRuns; i++) {
        await recreate();
        rmSync(stateDir, { recursive: true, force: true });
        const r = await child(['outflow', pipelineFile], i === 0 ? profileDir : undefined);
        await expectRows(opts.rows, 'outflow full sync');
        runs.push({ ms: r.ms, peakRssMb: r.peakRssMb, rows: r.rows, stages: r.stages });
      }
      if (opts.only.has('full')) record('full', runs);

      if (opts.only.has('incremental')) {
        console.log('outflow incremental…');
        const inc: Measurement[] = [];
        for (let i = 0; i < opts.runs; i++) {
          const rows = await count();
          const maxId = await duckdbValue(warehouse, 'SELECT max(id) FROM customers');
          const change = changeSql('customers', opts.rows, maxId, i + 1);
          await duckdb(warehouse, change.sql);
          await dest.checkpoint();
          const r = await child(['outflow', pipelineFile], i === 0 ? profileDir : undefined);
          if (r.counts?.changed !== change.changed || r.counts?.added !== change.added) {
            throw new Error(`incremental run: expected ${change.changed} changed and ${change.added} added, got ${JSON.stringify(r.counts)}`);
          }
          await expectRows(rows + change.added, 'outflow incremental');
          inc.push({ ms: r.ms, peakRssMb: r.peakRssMb, rows: r.rows, stages: r.stages });
        }
        record('incremental', inc);
      }
      if (opts.only.has('floor')) {
        // What the server pays for the incremental run's main write whoever sends it: one
        // UPDATE of the same share of rows, spread over every page, straight after a
        // CHECKPOINT (so it writes the same full-page images), rolled back.
        console.log(`${LABELS.floor}…`);
        const runs: Measurement[] = [];
        for (let i = 0; i < opts.runs; i++) {
          await dest.checkpoint();
          const r = dest.floor!((i + 50) % 100);
          runs.push({ ms: r.ms, peakRssMb: r.peakRssMb, rows: Math.floor(opts.rows / 100) });
        }
        record('floor', runs, 'BEGIN; UPDATE …; ROLLBACK');
      }
      if (opts.only.has('unchanged')) {
        console.log('outflow, nothing changed…');
        const same: Measurement[] = [];
        for (let i = 0; i < opts.runs; i++) {
          await dest.checkpoint();
          const r = await child(['outflow', pipelineFile], i === 0 ? profileDir : undefined);
          if (r.rows !== 0) throw new Error(`nothing changed, yet ${r.rows} rows were sent`);
          same.push({ ms: r.ms, peakRssMb: r.peakRssMb, rows: r.counts?.read ?? 0, stages: r.stages });
        }
        // rows/s here is rows checked per second: the whole model is read and compared.
        record('unchanged', same, 'rows/s counts rows checked, none sent');
      }
      if (opts.only.has('verify')) {
        console.log('outflow verify…');
        const checks: Measurement[] = [];
        for (let i = 0; i < opts.runs; i++) {
          const r = await child(['verify', pipelineFile], i === 0 ? profileDir : undefined);
          checks.push({ ms: r.ms, peakRssMb: r.peakRssMb, rows: r.rows });
        }
        record('verify', checks, 'rows/s counts rows compared');
      }
    }

    if (opts.only.has('naive')) {
      console.log('naive INSERT…');
      const runs: Measurement[] = [];
      for (let i = 0; i < opts.runs; i++) {
        await recreate();
        const r = await child(['naive', warehouse, 'customers', dest.naiveUrl!, TABLE]);
        await expectRows(r.rows, 'naive INSERT');
        runs.push({ ms: r.ms, peakRssMb: r.peakRssMb, rows: r.rows });
      }
      record('naive', runs);
    }

    if (opts.only.has('pgloader')) {
      const has = spawnSync('pgloader', ['--version']).status === 0;
      if (!has) {
        console.log('pgloader: not installed, skipped (install it from Debian: apt-get install -y pgloader)');
        results.push({ method: 'pgloader', label: LABELS.pgloader, rows: 0, runs: [], medianMs: 0, rowsPerSec: 0, peakRssMb: 0, note: 'not installed: apt-get install -y pgloader' });
      } else {
        console.log('pgloader…');
        const u = new URL(PG_URL);
        const load = join(work, 'customers.load');
        const rows = await duckdbValue(warehouse, `SELECT count(*) FROM read_csv('${csv}', header = false)`);
        writeFileSync(
          load,
          `LOAD CSV FROM '${csv}' (id, email, name, country, lifetime_value, orders, last_order_at, is_active, segment [null if blanks])
  INTO postgresql://${u.username || 'postgres'}@${u.hostname}:${u.port || 5432}${u.pathname}?tablename=${TABLE}
  WITH fields optionally enclosed by '"', fields escaped by double-quote, fields terminated by ',';
`,
        );
        const runs: Measurement[] = [];
        for (let i = 0; i < opts.runs; i++) {
          await recreate();
          const r = timed('pgloader', ['--quiet', '--root-dir', join(work, 'pgloader'), load]);
          await expectRows(rows, 'pgloader');
          runs.push({ ms: r.ms, peakRssMb: r.peakRssMb, rows });
        }
        record('pgloader', runs);
      }
    }
  } finally {
    await dest.close();
    rmSync(work, { recursive: true, force: true });
  }

  const limit = results.find((r) => r.method === dest.limit);
  for (const r of results) if (limit && r.rowsPerSec) r.ratioToPsql = r.rowsPerSec / limit.rowsPerSec;
  const full = results.find((r) => r.method === 'full');
  const table = renderTable(opts.rows, results, dest.limitShort, full);
  console.log(`\n${table}`);
  const report = { date: new Date().toISOString(), destination: opts.destination, rows: opts.rows, runs: opts.runs, machine: m, results, table };
  const dir = join(benchDir, 'results');
  mkdirSync(dir, { recursive: true });
  const json = JSON.stringify(report, null, 2);
  writeFileSync(join(dir, `latest${dest.resultSuffix}.json`), json);
  writeFileSync(join(dir, `${report.date.slice(0, 19).replace(/[:T]/g, '-')}-${opts.rows}${dest.resultSuffix}.json`), json);
  console.log(`\nwritten to ${join(dir, `latest${dest.resultSuffix}.json`)}`);
}

function renderTable(rows: number, results: MethodResult[], limitShort: string, full?: MethodResult): string {
  const lines = [
    `| method (${rows.toLocaleString('en')} rows) | median wall | rows/s | ratio to ${limitShort} | share of a full sync | peak RSS |`,
    '|---|---|---|---|---|---|',
  ];
  for (const r of results) {
    if (!r.runs.length) {
      lines.push(`| ${r.label} | skipped: ${r.note} | | | | |`);
      continue;
    }
    const share = full && r.method !== 'full' && r.method !== 'psql' && r.method !== 'pglite_copy' && r.method !== 'mysql_load' && r.method !== 'naive' && r.method !== 'pgloader' ? `${((r.medianMs / full.medianMs) * 100).toFixed(1)}%` : '';
    lines.push(
      `| ${r.label} | ${(r.medianMs / 1000).toFixed(2)} s | ${Math.round(r.rowsPerSec).toLocaleString('en')} | ${r.ratioToPsql?.toFixed(2) ?? ''} | ${share} | ${Math.round(r.peakRssMb)} MB |`,
    );
  }
  return lines.join('\n');
}

await main();
