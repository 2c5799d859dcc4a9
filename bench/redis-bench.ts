/**
 * `npm run bench:redis [-- --rows N --runs 1]`
 *
 * Loads the bench's "customer insights" model (bench/customer-model.ts) into Redis, one
 * hash per customer, three ways, and prints per method the median wall time, rows/s, the
 * ratio to the limits and the loading process's peak RSS:
 *   - `redis-cli --pipe` of HSET commands from a prepared file: Redis's own bulk path, the limit;
 *   - ioredis pipelined HSET, 1,000 rows a pipeline, rows streamed from DuckDB: the client-side limit;
 *   - `outflow run` (full sync, `type: redis`, `format: hash`): DEL + HSET per row in a
 *     MULTI/EXEC per batch of `batch_size` rows.
 * Keys carry a prefix of this process's own and are deleted (SCAN + UNLINK) between loads.
 */
import { createWriteStream, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { once } from 'node:events';
import { DuckDBInstance } from '@duckdb/node-api';
import { Redis } from 'ioredis';
import { COLUMN_NAMES, REDIS_TEXT_SQL, benchPipelineYaml, modelRowsSql } from './customer-model.js';
import { child, timed, type Measurement } from './bench-process.js';

const here = dirname(fileURLToPath(import.meta.url));
const benchDir = resolve(here, '../../bench');
const REDIS_URL = process.env.OUTFLOW_BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379/0';
const PREFIX = `bench:${process.pid}:`;

interface Result {
  label: string;
  runs: Measurement[];
  medianMs: number;
  rowsPerSec: number;
  peakRssMb: number;
}

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** RESP for `HSET <prefix><id> field value …` of every model row, for redis-cli --pipe. */
async function writeResp(warehouse: string, file: string): Promise<void> {
  const instance = await DuckDBInstance.create(warehouse, { access_mode: 'READ_ONLY' });
  const c = await instance.connect();
  const out = createWriteStream(file);
  const bulk = (s: string) => `$${Buffer.byteLength(s)}\r\n${s}\r\n`;
  try {
    const result = await c.stream(REDIS_TEXT_SQL('customers'));
    for (;;) {
      const chunk = await result.fetchChunk();
      if (!chunk || chunk.rowCount === 0) break;
      let text = '';
      for (const row of chunk.getRows()) {
        const args = ['HSET', `${PREFIX}${row[0]}`];
        for (let i = 0; i < COLUMN_NAMES.length; i++) if (row[i] !== null) args.push(COLUMN_NAMES[i], String(row[i]));
        text += `*${args.length}\r\n${args.map(bulk).join('')}`;
      }
      if (!out.write(text)) await once(out, 'drain');
    }
  } finally {
    out.end();
    await once(out, 'finish');
    c.closeSync();
    instance.closeSync();
  }
}

async function clearKeys(redis: Redis): Promise<void> {
  const stream = redis.scanStream({ match: `${PREFIX}*`, count: 5000 });
  for await (const keys of stream as AsyncIterable<string[]>) if (keys.length) await redis.unlink(...keys);
}

async function countKeys(redis: Redis): Promise<number> {
  let n = 0;
  const stream = redis.scanStream({ match: `${PREFIX}*`, count: 5000 });
  for await (const keys of stream as AsyncIterable<string[]>) n += keys.length;
  return n;
}

async function main(): Promise<void> {
  const rows = Number(arg('rows', '1000000').replace(/[_,]/g, ''));
  const runs = Number(arg('runs', '1'));
  const batchSize = Number(arg('batch-size', '1000'));
  const work = mkdtempSync(join(tmpdir(), 'outflow-redis-bench-'));
  const warehouse = join(work, 'warehouse.duckdb');
  const resp = join(work, 'hset.resp');
  const redis = new Redis(REDIS_URL);
  const info = String(await redis.info('server'));
  const redisVersion = /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown';
  console.log(`machine: ${cpus()[0]?.model}, ${cpus().length} cores, ${Math.round(totalmem() / 2 ** 30)} GB, Node ${process.version}, Redis ${redisVersion}`);
  console.log(`model: ${rows.toLocaleString('en')} rows, ${runs} run(s) per method, batch_size ${batchSize}`);
  const results: Result[] = [];
  const record = (label: string, ms: Measurement[]) => {
    const medianMs = median(ms.map((m) => m.ms));
    const r = { label, runs: ms, medianMs, rowsPerSec: rows / (medianMs / 1000), peakRssMb: Math.max(...ms.map((m) => m.peakRssMb)) };
    results.push(r);
    console.log(`  ${label}: ${(medianMs / 1000).toFixed(2)} s, ${Math.round(r.rowsPerSec).toLocaleString('en')} rows/s, peak RSS ${Math.round(r.peakRssMb)} MB`);
  };
  const expectKeys = async (what: string) => {
    const n = await countKeys(redis);
    if (n !== rows) throw new Error(`${what}: ${n} keys in Redis, expected ${rows}`);
  };
  try {
    console.log('generating the model and the RESP file…');
    const instance = await DuckDBInstance.create(warehouse);
    const c = await instance.connect();
    await c.run(`CREATE TABLE customers AS ${modelRowsSql(1, rows)}`);
    c.closeSync();
    instance.closeSync();
    await writeResp(warehouse, resp);
    await clearKeys(redis);

    const pipe: Measurement[] = [];
    for (let i = 0; i < runs; i++) {
      const r = timed('sh', ['-c', `redis-cli -u '${REDIS_URL}' --pipe < '${resp}'`]);
      await expectKeys('redis-cli --pipe');
      pipe.push({ ms: r.ms, peakRssMb: r.peakRssMb, rows });
      await clearKeys(redis);
    }
    record('redis-cli --pipe, HSET from a prepared file (the limit)', pipe);

    const hset: Measurement[] = [];
    for (let i = 0; i < runs; i++) {
      const r = await child(['redis-hset', warehouse, 'customers', REDIS_URL, PREFIX]);
      await expectKeys('ioredis HSET');
      hset.push({ ms: r.ms, peakRssMb: r.peakRssMb, rows: r.rows });
      await clearKeys(redis);
    }
    record('ioredis pipelined HSET from DuckDB, by hand (client-side limit)', hset);

    const pipelineFile = join(work, 'pipeline.yaml');
    const stateDir = join(work, 'state');
    writeFileSync(pipelineFile, benchPipelineYaml('bench_customers_redis', warehouse, `type: redis\nurl: ${REDIS_URL}\nkey: "${PREFIX}{id}"\nbatch_size: ${batchSize}`, stateDir));
    const full: Measurement[] = [];
    for (let i = 0; i < runs; i++) {
      rmSync(stateDir, { recursive: true, force: true });
      const r = await child(['outflow', pipelineFile]);
      await expectKeys('outflow');
      full.push({ ms: r.ms, peakRssMb: r.peakRssMb, rows: r.rows, stages: r.stages });
      await clearKeys(redis);
    }
    record('outflow full sync into Redis (DEL + HSET, MULTI/EXEC per batch)', full);
  } finally {
    await clearKeys(redis).catch(() => undefined);
    redis.disconnect();
    rmSync(work, { recursive: true, force: true });
  }
  const [limit, client] = results;
  const lines = [
    `| method (${rows.toLocaleString('en')} rows) | median wall | rows/s | ratio to redis-cli --pipe | ratio to ioredis HSET | peak RSS |`,
    '|---|---|---|---|---|---|',
    ...results.map(
      (r) =>
        `| ${r.label} | ${(r.medianMs / 1000).toFixed(2)} s | ${Math.round(r.rowsPerSec).toLocaleString('en')} | ${(r.rowsPerSec / limit.rowsPerSec).toFixed(2)} | ${(r.rowsPerSec / client.rowsPerSec).toFixed(2)} | ${Math.round(r.peakRssMb)} MB |`,
    ),
  ];
  const table = lines.join('\n');
  console.log(`\n${table}`);
  const dir = join(benchDir, 'results');
  mkdirSync(dir, { recursive: true });
  const report = { date: new Date().toISOString(), rows, runs, batchSize, redis: redisVersion, loadAverage: loadavg(), results, table };
  writeFileSync(join(dir, 'redis-latest.json'), JSON.stringify(report, null, 2));
  console.log(`\nwritten to ${join(dir, 'redis-latest.json')}`);
}

await main();
