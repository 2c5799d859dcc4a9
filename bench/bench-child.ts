/**
 * One measured load in its own process, so its peak RSS is the load's alone:
 *   node dist/bench/bench-child.js outflow <pipeline.yaml>
 *   node dist/bench/bench-child.js verify <pipeline.yaml>
 *   node dist/bench/bench-child.js naive <warehouse.duckdb> <table> <postgres:// or mysql:// url> <target table>
 *   node dist/bench/bench-child.js pglite-copy <data dir> <file.csv> <target table>
 *   node dist/bench/bench-child.js redis-hset <warehouse.duckdb> <table> <redis url> <key prefix>
 * Prints one JSON line: wall time of the load (process start-up excluded), peak RSS
 * (getrusage: JS heap and DuckDB's native memory alike), and what was loaded.
 */
import { openAsBlob } from 'node:fs';
import { DuckDBInstance } from '@duckdb/node-api';
import pg from 'pg';
import mysql from 'mysql2/promise';
import { loadPipeline } from '../src/config/load-pipeline.js';
import { runPipeline } from '../src/engine/run-pipeline.js';
import { Redis } from 'ioredis';
import { COLUMN_NAMES, REDIS_TEXT_SQL } from './customer-model.js';
import { verifyPipeline } from '../src/engine/verify.js';

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
/** A driver's multi-row INSERT of `rows` rows, the full-size statement prepared once and reused. */
interface NaiveClient {
  insert(rows: number, params: unknown[], isFull: boolean): Promise<void>;
  end(): Promise<void>;
}

async function naiveClient(url: string, target: string, rowsPerInsert: number): Promise<NaiveClient> {
  const n = COLUMN_NAMES.length;
  const values = (rows: number, param: (i: number) => string) =>
    Array.from({ length: rows }, (_, r) => `(${Array.from({ length: n }, (_, c) => param(r * n + c + 1)).join(', ')})`).join(', ');
  if (url.startsWith('mysql:')) {
    const conn = await mysql.createConnection({ uri: url });
    const insertSql = (rows: number) => `INSERT INTO ${conn.escapeId(target)} (${COLUMN_NAMES.join(', ')}) VALUES ${values(rows, () => '?')}`;
    return { insert: async (rows, params) => void (await conn.execute(insertSql(rows), params as string[])), end: () => conn.end() };
  }
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const insertSql = (rows: number) => `INSERT INTO ${client.escapeIdentifier(target)} (${COLUMN_NAMES.join(', ')}) VALUES ${values(rows, (i) => `$${i}`)}`;
  const fullSql = insertSql(rowsPerInsert);
  return {
    insert: async (rows, params, isFull) =>
      void (isFull ? await client.query({ name: 'naive_insert', text: fullSql, values: params }) : await client.query(insertSql(rows), params)),
    end: () => client.end(),
  };
}

async function runNaive(warehouse: string, table: string, url: string, target: string): Promise<ChildReport> {
  const rowsPerInsert = 1000;
  const t = performance.now();
  const instance = await DuckDBInstance.create(warehouse, { access_mode: 'READ_ONLY', memory_limit: '256MB' });
  const duck = await instance.connect();
  await duck.run(`SET TimeZone = 'UTC'`);
  const client = await naiveClient(url, target, rowsPerInsert);
  const n = COLUMN_NAMES.length;
  // MySQL reads neither an offset on an instant nor 'true': the UTC digits and 1/0 there.
  const isMysql = url.startsWith('mysql:');
  const instant = isMysql ? `strftime(last_order_at, '%Y-%m-%d %H:%M:%S.%f')` : 'CAST(last_order_at AS VARCHAR)';
  const flag = isMysql ? 'CAST(is_active AS INTEGER)' : 'is_active';
  const result = await duck.stream(
    `SELECT CAST(id AS VARCHAR), email, name, country, CAST(lifetime_value AS VARCHAR), orders, ${instant}, ${flag}, segment FROM ${table}`,
  );
  let params: unknown[] = [];
  let total = 0;
  const flush = async () => {
    const rows = params.length / n;
    if (rows === 0) return;
    await client.insert(rows, params, rows === rowsPerInsert);
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

/**
 * The client-side limit for Redis: what a user would write by hand with ioredis — the
 * model's rows streamed from DuckDB (values already text), one pipelined HSET per row,
 * 1,000 rows per pipeline, no MULTI, no DEL, no TTL.
 */
async function runRedisHset(warehouse: string, table: string, url: string, prefix: string): Promise<ChildReport> {
  const t = performance.now();
  const instance = await DuckDBInstance.create(warehouse, { access_mode: 'READ_ONLY', memory_limit: '256MB' });
  const duck = await instance.connect();
  const redis = new Redis(url);
  const result = await duck.stream(REDIS_TEXT_SQL(table));
  let total = 0;
  let pipeline = redis.pipeline();
  let queued = 0;
  for (;;) {
    const chunk = await result.fetchChunk();
    if (!chunk || chunk.rowCount === 0) break;
    for (const row of chunk.getRows()) {
      const args: string[] = [];
      for (let i = 0; i < COLUMN_NAMES.length; i++) if (row[i] !== null) args.push(COLUMN_NAMES[i], String(row[i]));
      pipeline.hset(`${prefix}${row[0]}`, ...args);
      if (++queued === 1000) {
        await pipeline.exec();
        pipeline = redis.pipeline();
        total += queued;
        queued = 0;
      }
    }
  }
  if (queued) await pipeline.exec();
  total += queued;
  redis.disconnect();
  duck.closeSync();
  instance.closeSync();
  return { ms: performance.now() - t, peakRssMb: 0, rows: total, status: 'success' };
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
          : mode === 'redis-hset'
            ? await runRedisHset(args[0], args[1], args[2], args[3])
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
