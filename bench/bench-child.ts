/**
 * One measured load in its own process, so its peak RSS is the load's alone:
 *   node dist/bench/bench-child.js outflow <pipeline.yaml>
 *   node dist/bench/bench-child.js verify <pipeline.yaml>
 *   node dist/bench/bench-child.js naive <warehouse.duckdb> <table> <postgres url> <target table>
 *   node dist/bench/bench-child.js pglite-copy <data dir> <file.csv> <target table>
 * Prints one JSON line: wall time of the load (process start-up excluded), peak RSS
 * (getrusage: JS heap and DuckDB's native memory alike), and what was loaded.
 */
import { openAsBlob } from 'node:fs';
import { DuckDBInstance } from '@duckdb/node-api';
import pg from 'pg';
import { loadPipeline } from '../src/config/load-pipeline.js';
import { runPipeline } from '../src/engine/run-pipeline.js';
import { verifyPipeline } from '../src/engine/verify.js';
import { COLUMN_NAMES } from './customer-model.js';

export interface ChildReport {
  ms: number;
  /** Peak resident set size of this process in MB (getrusage maxrss). */
  peakRssMb: number;
  /** Highest process.memoryUsage().rss seen by a 20 ms sampler during the load, in MB. */
  sampledPeakRssMb?: number;
  rows: number;
  status: string;
  error?: string;
  stages?: { stage: string; ms: number }[];
  counts?: Record<string, number>;
}

async function runOutflow(file: string): Promise<ChildReport> {
  const p = loadPipeline(file);
  const t = performance.now();
  const r = await runPipeline(p);
  const ms = performance.now() - t;
  return {
    ms,
    peakRssMb: 0,
    rows: r.counts.sent,
    status: r.status,
    error: r.error,
    stages: r.stages,
    counts: r.counts as unknown as Record<string, number>,
  };
}

async function runVerify(file: string): Promise<ChildReport> {
  const t = performance.now();
  const v = await verifyPipeline(loadPipeline(file));
  const ms = performance.now() - t;
  const error = v.equal ? undefined : `not equal: missing ${v.missing}, extra ${v.extra}, different ${v.different}`;
  return { ms, peakRssMb: 0, rows: v.modelRows, status: v.equal ? 'success' : 'failed', error };
}

/**
 * What a user might write first: read the model with the DuckDB client and send
 * multi-row parameterised INSERTs of 1,000 rows, one at a time. Decimals, big integers
 * and timestamps travel as text so the baseline is exact too.
 */
async function runNaive(warehouse: string, table: string, url: string, target: string): Promise<ChildReport> {
  const rowsPerInsert = 1000;
  const t = performance.now();
  const instance = await DuckDBInstance.create(warehouse, { access_mode: 'READ_ONLY', memory_limit: '256MB' });
  const duck = await instance.connect();
  await duck.run(`SET TimeZone = 'UTC'`);
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const n = COLUMN_NAMES.length;
  const values = (rows: number) =>
    Array.from({ length: rows }, (_, r) => `(${Array.from({ length: n }, (_, c) => `$${r * n + c + 1}`).join(', ')})`).join(', ');
  const insertSql = (rows: number) => `INSERT INTO ${client.escapeIdentifier(target)} (${COLUMN_NAMES.join(', ')}) VALUES ${values(rows)}`;
  const fullSql = insertSql(rowsPerInsert);
  const result = await duck.stream(
    `SELECT CAST(id AS VARCHAR), email, name, country, CAST(lifetime_value AS VARCHAR), orders, CAST(last_order_at AS VARCHAR), is_active, segment FROM ${table}`,
  );
  let params: unknown[] = [];
  let total = 0;
  const flush = async () => {
    const rows = params.length / n;
    if (rows === 0) return;
    // A named statement is prepared once and reused for every full batch.
    if (rows === rowsPerInsert) await client.query({ name: 'naive_insert', text: fullSql, values: params });
    else await client.query(insertSql(rows), params);
    total += rows;
    params = [];
  };
  for (;;) {
    const chunk = await result.fetchChunk();
    if (!chunk || chunk.rowCount === 0) break;
    for (const row of chunk.getRows()) {
      for (const v of row) params.push(v);
      if (params.length === rowsPerInsert * n) await flush();
    }
  }
  await flush();
  await client.end();
  duck.closeSync();
  instance.closeSync();
  return { ms: performance.now() - t, peakRssMb: 0, rows: total, status: 'success' };
}

/**
 * PGlite's own bulk load, the limit line of `--destination pglite`: open the data
 * directory, `COPY … FROM '/dev/blob'` with the CSV file as the Blob (file-backed, so
 * the file is not read into the JS heap first), close. All of it timed, as outflow's run
 * also opens and closes the database.
 */
async function runPgliteCopy(dataDir: string, csv: string, table: string): Promise<ChildReport> {
  const t = performance.now();
  const { PGlite } = await import('@electric-sql/pglite');
  const db = await PGlite.create(dataDir);
  const r = await db.query(`COPY ${table} FROM '/dev/blob' (FORMAT csv)`, [], { blob: await openAsBlob(csv) });
  await db.close();
  return { ms: performance.now() - t, peakRssMb: 0, rows: r.affectedRows ?? 0, status: 'success' };
}

async function main(): Promise<void> {
  const [mode, ...args] = process.argv.slice(2);
  // The process's own view of its memory, sampled while the load runs (the event loop is
  // free while bytes stream, so the samples keep coming); getrusage's peak is reported too.
  let sampledPeak = process.memoryUsage.rss();
  const sampler = setInterval(() => (sampledPeak = Math.max(sampledPeak, process.memoryUsage.rss())), 20);
  let report: ChildReport;
  try {
    report =
      mode === 'naive'
        ? await runNaive(args[0], args[1], args[2], args[3])
        : mode === 'pglite-copy'
          ? await runPgliteCopy(args[0], args[1], args[2])
          : mode === 'verify'
            ? await runVerify(args[0])
            : await runOutflow(args[0]);
  } catch (e) {
    report = { ms: 0, peakRssMb: 0, rows: 0, status: 'failed', error: e instanceof Error ? e.message : String(e) };
  }
  clearInterval(sampler);
  report.peakRssMb = process.resourceUsage().maxRSS / 1024;
  report.sampledPeakRssMb = sampledPeak / 2 ** 20;
  process.stdout.write(`BENCH_REPORT ${JSON.stringify(report)}\n`);
}

await main();
