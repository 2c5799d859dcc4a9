import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync } from 'node:fs';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import pg from 'pg';
import { PG_URL, tempDir, uniqueName, writeFile } from '../support/databases.js';
import { buildCli, CLI, removeCliBuild, runCli, startCli, type CliResult } from '../support/cli-process.js';

/**
 * `outflow worker`: three worker processes on this machine share a Postgres state database
 * (run history aside: the job queue, the partition locks) and deliver the partitions of a
 * warehouse diff. One is killed with SIGKILL mid-run; its partition goes to another after
 * the queue's expiry; the run completes, `verify` passes, and no row reaches the target
 * twice — counted in the target (mode insert into a table with no unique key: a partition
 * delivered twice would leave duplicate rows) and by Postgres' own statistics
 * (pg_stat_user_tables.n_tup_ins).
 */
const ROWS = Number(process.env.OUTFLOW_TEST_WORKER_ROWS ?? 2_000_000);

const db = new pg.Client({ connectionString: PG_URL });
const schema = uniqueName('wk');
const stateSchema = uniqueName('wkstate');
const dir = tempDir('outflow-workers-');
const workers: Worker[] = [];
/** The state database: the test's own schema in it (`?schema=`), so other test files' workers never see these jobs. */
const STATE_URL = `${PG_URL}?schema=${stateSchema}`;

interface Worker {
  child: ChildProcess;
  output: () => string;
  done: Promise<CliResult>;
}

/** An `outflow worker` process on the test's pipeline folder, resolved once it says it is ready. */
async function startWorker(env: Record<string, string> = {}): Promise<Worker> {
  const child = spawn(process.execPath, [CLI, 'worker', join(dir, 'pipelines'), '--state-url', STATE_URL], {
    env: { ...process.env, OUTFLOW_TEST_PG_URL: PG_URL, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  const done = new Promise<CliResult>((res) => child.on('close', (code, signal) => res({ code, signal, stdout, stderr })));
  const w = { child, output: () => stdout + stderr, done };
  workers.push(w);
  const deadline = Date.now() + 60_000;
  while (!stdout.includes(' ready ')) {
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`worker did not start:\n${stdout}${stderr}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return w;
}

async function stopWorkers(): Promise<void> {
  for (const w of workers.splice(0)) {
    if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGTERM');
    await Promise.race([w.done, new Promise((r) => setTimeout(r, 20_000))]);
    if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGKILL');
  }
}

async function waitForFile(path: string, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!existsSync(path)) {
    if (Date.now() > deadline) throw new Error(`${path} did not appear within ${ms} ms; workers said:\n${workers.map((w) => w.output()).join('\n---\n')}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function pipelineYaml(name: string, model: string, target: string, mode: string, partitions: number): string {
  return `name: ${name}
source:
  type: postgres
  url: \${OUTFLOW_TEST_PG_URL}
model:
  table: ${model}
destination:
  type: postgres
  url: \${OUTFLOW_TEST_PG_URL}
  table: ${target}
primary_key: id
mode: ${mode}
diff: warehouse
state_schema: ${stateSchema}_wh
partitions: ${partitions}
workers: true
retry:
  attempts: 6
  initial_delay: 1s
timeouts:
  partition: 20s
`;
}

function runJson(r: CliResult): { status: string; counts: Record<string, number>; stages: { stage: string }[]; error?: string } {
  try {
    return JSON.parse(r.stdout);
  } catch {
    throw new Error(`run printed no JSON (exit ${r.code}):\n${r.stdout}\n${r.stderr}\nworkers:\n${workers.map((w) => w.output()).join('\n---\n')}`);
  }
}

/** Postgres' count of rows inserted into a table, once every backend has reported (backends report when they end or go idle). */
async function insertedByStats(table: string, atLeast: number): Promise<{ ins: number; upd: number }> {
  const read = async () => {
    await db.query('SELECT pg_stat_clear_snapshot()');
    const r = await db.query<{ ins: string; upd: string }>('SELECT n_tup_ins::text AS ins, n_tup_upd::text AS upd FROM pg_stat_user_tables WHERE relid = $1::regclass', [table]);
    return { ins: Number(r.rows[0].ins), upd: Number(r.rows[0].upd) };
  };
  const deadline = Date.now() + 60_000;
  let s = await read();
  while (s.ins < atLeast && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 500));
    s = await read();
  }
  // Settled: a late report would only add to it.
  await new Promise((r) => setTimeout(r, 2_000));
  return read();
}

beforeAll(async () => {
  buildCli();
  await db.connect();
  await db.query(`CREATE SCHEMA ${schema}`);
  await db.query(
    `CREATE TABLE ${schema}.model AS SELECT i AS id, md5(i::text) AS name, i * 2 AS v FROM generate_series(1, ${ROWS}) AS i`,
  );
  await db.query(`ALTER TABLE ${schema}.model ADD PRIMARY KEY (id)`);
  // No unique key: mode insert appends, so a partition delivered twice shows as duplicate rows.
  await db.query(`CREATE TABLE ${schema}.target (id integer, name text, v integer)`);
  await db.query(`CREATE TABLE ${schema}.small AS SELECT i AS id, md5(i::text) AS name, i AS v FROM generate_series(1, 60000) AS i`);
  await db.query(`ALTER TABLE ${schema}.small ADD PRIMARY KEY (id)`);
  mkdirSync(join(dir, 'pipelines'));
  writeFile(join(dir, 'pipelines', 'big.yaml'), pipelineYaml('wk_big', `${schema}.model`, `${schema}.target`, 'insert', 12));
  writeFile(join(dir, 'pipelines', 'small.yaml'), pipelineYaml('wk_small', `${schema}.small`, `${schema}.small_target`, 'upsert', 6));
  writeFile(join(dir, 'local.yaml'), `source:\n  type: postgres\n  url: \${OUTFLOW_TEST_PG_URL}\nmodel:\n  table: ${schema}.small\ndestination:\n  type: postgres\n  url: \${OUTFLOW_TEST_PG_URL}\n  table: ${schema}.t2\nprimary_key: id\n`);
}, 300_000);

afterAll(async () => {
  await stopWorkers();
  for (const s of [schema, stateSchema, `${stateSchema}_queue`, `${stateSchema}_wh`]) await db.query(`DROP SCHEMA IF EXISTS ${s} CASCADE`);
  await db.end();
  removeCliBuild();
}, 120_000);

const env = { OUTFLOW_TEST_PG_URL: PG_URL };

describe('outflow worker', () => {
  it(`3 workers deliver ${ROWS.toLocaleString('en')} rows; one killed after its COMMIT leaves its partition to another, which records it without sending it again`, async () => {
    const pause = join(dir, 'w1.paused');
    // Worker 1 stops after its first partition committed in the target, before the warehouse snapshot records it.
    const w1 = await startWorker({ OUTFLOW_TEST_PAUSE_AT: 'snapshot', OUTFLOW_TEST_PAUSE_FILE: pause });
    await startWorker();
    await startWorker();
    const run = startCli(['--json', 'run', join(dir, 'pipelines', 'big.yaml'), '--state-url', STATE_URL], env);
    await waitForFile(pause, 240_000);
    w1.child.kill('SIGKILL');
    const r = runJson(await run.done);
    expect(r.status, r.error).toBe('success');
    expect(r.counts).toMatchObject({ read: ROWS, added: ROWS, sent: ROWS, unchanged: 0, rejected: 0 });
    expect(r.counts.inserted).toBeLessThan(ROWS); // the killed worker's rows were inserted by it, and counted as reconciled
    const reconciled = r.stages.filter((s) => s.stage.includes('delivered by an attempt that stopped before recording it'));
    expect(reconciled).toHaveLength(1);
    expect(new Set(r.stages.filter((s) => / by [^ ]+:\d+/.test(s.stage)).map((s) => s.stage.replace(/.* by ([^ ]+:\d+).*/, '$1'))).size).toBeGreaterThanOrEqual(2);
    const counted = await db.query<{ n: string; ids: string }>(`SELECT count(*)::text AS n, count(DISTINCT id)::text AS ids FROM ${schema}.target`);
    expect(Number(counted.rows[0].n)).toBe(ROWS);
    expect(Number(counted.rows[0].ids)).toBe(ROWS);
    const stats = await insertedByStats(`${schema}.target`, ROWS);
    expect(stats).toEqual({ ins: ROWS, upd: 0 });
    const verify = await runCli(['verify', join(dir, 'pipelines', 'big.yaml')], env);
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);

    // The next run sends only the new rows, through the two workers left.
    await db.query(`INSERT INTO ${schema}.model SELECT i, md5(i::text), i * 2 FROM generate_series(${ROWS + 1}, ${ROWS + 1000}) AS i`);
    const next = runJson(await runCli(['--json', 'run', join(dir, 'pipelines', 'big.yaml'), '--state-url', STATE_URL], env));
    expect(next.status, next.error).toBe('success');
    expect(next.counts).toMatchObject({ read: ROWS + 1000, added: 1000, sent: 1000, inserted: 1000, unchanged: ROWS });
    expect(Number((await db.query(`SELECT count(*)::text AS n FROM ${schema}.target`)).rows[0].n)).toBe(ROWS + 1000);
  }, 900_000);

  it('a worker killed inside its merge transaction changes nothing; another worker delivers the partition', async () => {
    await stopWorkers();
    const file = join(dir, 'pipelines', 'small.yaml');
    await startWorker();
    const first = runJson(await runCli(['--json', 'run', file, '--state-url', STATE_URL], env));
    expect(first.status, first.error).toBe('success');
    await db.query(`UPDATE ${schema}.small SET v = v + 1 WHERE id % 50 = 0`);
    const pause = join(dir, 'w-merge.paused');
    // Only the pausing worker takes jobs until it is killed.
    await stopWorkers();
    const w = await startWorker({ OUTFLOW_TEST_PAUSE_AT: 'merge-commit', OUTFLOW_TEST_PAUSE_FILE: pause });
    const run = startCli(['--json', 'run', file, '--state-url', STATE_URL], env);
    await waitForFile(pause, 120_000);
    w.child.kill('SIGKILL');
    await startWorker();
    const r = runJson(await run.done);
    expect(r.status, r.error).toBe('success');
    expect(r.counts).toMatchObject({ read: 60000, changed: 1200, sent: 1200, updated: 1200, inserted: 0, unchanged: 58800 });
    expect(r.stages.some((s) => /\(attempt [2-9]\)/.test(s.stage))).toBe(true);
    const changed = await db.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${schema}.small_target WHERE v = id + 1`);
    expect(Number(changed.rows[0].n)).toBe(1200);
    const verify = await runCli(['verify', file], env);
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
  }, 600_000);

  it('serve hands a workers: true pipeline to the workers and records the run', async () => {
    await stopWorkers();
    await startWorker();
    await db.query(`UPDATE ${schema}.small SET v = v + 1 WHERE id % 100 = 0`);
    const bumped = Number((await db.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${schema}.small WHERE v = id + 2`)).rows[0].n);
    const { startTestServer } = await import('../server/serve-fixtures.js');
    const server = await startTestServer({ dir: join(dir, 'pipelines'), stateDir: join(dir, 'serve-state'), env: { ...process.env, ...env, OUTFLOW_STATE_URL: STATE_URL } });
    try {
      const started = await server.post('/api/pipelines/wk_small/runs');
      expect(started.status, started.text).toBe(202);
      const run = await server.waitForRun('wk_small', started.body.run_id, 120_000);
      expect(run.status, run.error).toBe('success');
      // After the tests above: 600 changed rows; alone: a first, full sync.
      expect(run.counts.sent).toBe(run.counts.added + run.counts.changed);
      expect(run.counts.sent).toBeGreaterThan(0);
      const target = await db.query<{ n: string; bumped: string }>(`SELECT count(*)::text AS n, count(*) FILTER (WHERE v = id + 2)::text AS bumped FROM ${schema}.small_target`);
      expect(Number(target.rows[0].n)).toBe(60000);
      expect(Number(target.rows[0].bumped)).toBe(bumped);
      expect(run.stages.filter((s: { stage: string }) => / by [^ ]+:\d+/.test(s.stage))).toHaveLength(6);
    } finally {
      await server.stop();
    }
  }, 300_000);

  it('refuses workers without a warehouse diff or a state database, naming what to set', async () => {
    const local = await runCli(['run', join(dir, 'local.yaml'), '--workers', '--state-url', STATE_URL], env);
    expect(local.code).toBe(2);
    expect(local.stderr).toContain('workers deliver the partitions of a warehouse diff; set diff: warehouse');
    const noState = await runCli(['run', join(dir, 'pipelines', 'small.yaml')], { ...env, OUTFLOW_STATE_URL: '' });
    expect(noState.code).toBe(2);
    expect(noState.stderr).toContain('needs a shared state database: set state.url in the pipeline, OUTFLOW_STATE_URL, or --state-url');
    const worker = await runCli(['worker', dir], { ...env, OUTFLOW_STATE_URL: '' });
    expect(worker.code).toBe(2);
    expect(worker.stderr).toContain('outflow worker needs a shared state database');
  }, 120_000);
});
