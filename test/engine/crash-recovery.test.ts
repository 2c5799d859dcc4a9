import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { loadPipeline } from '../../src/config/load-pipeline.js';
import { verifyPipeline } from '../../src/engine/verify.js';
import { HistoryStore } from '../../src/state/history-store.js';
import { buildCli, killHard, removeCliBuild, runCli, startPaused } from '../support/cli-process.js';
import { openFixture, sameRows, type Fixture } from '../support/change-fixture.js';

/**
 * The delivery guarantee, on real Postgres: `outflow run` is SIGKILLed while paused at each
 * point of a run; the target is never half-written, and the next run converges to the model
 * (checked by an md5 over every row on both sides, and by `verify`).
 *
 * 20,000 rows of ~270 bytes make ~5 MiB of COPY text, so the COPY streams several 1 MiB
 * chunks and the 'copy' pause lands with rows already sent and the statement unfinished.
 */
const ROWS = 20_000;
const POINTS = ['before-stage', 'copy', 'merge', 'merge-commit', 'snapshot'] as const;

beforeAll(() => buildCli(), 120_000);
afterAll(() => removeCliBuild());

interface Scenario {
  f: Fixture;
  file: string;
  pauses: number;
}

async function newScenario(prefix: string, mode: string): Promise<Scenario> {
  const f = await openFixture(prefix);
  await f.warehouseSql(
    `CREATE TABLE items AS SELECT i::INTEGER AS id, 'name ' || i || ' ' || repeat('x', 250) AS name, (i % 1000)::INTEGER AS v FROM range(1, ${ROWS + 1}) t(i)`,
  );
  await f.query(`CREATE TABLE "${f.table}" (id integer PRIMARY KEY, name text NOT NULL, v integer)`);
  return { f, file: f.pipelineFile({ mode }), pauses: 0 };
}

/** Starts a run paused at `point`, checks it got there, and SIGKILLs it. */
async function killAt(s: Scenario, point: string): Promise<void> {
  const started = await startPaused(['run', s.file], point, join(s.f.dir, `pause-${s.pauses++}`));
  expect(started.paused, `did not reach ${point}: ${started.result?.stderr}`).toBe(true);
  const killed = await killHard(started.run);
  expect(killed.signal).toBe('SIGKILL');
}

async function runToEnd(s: Scenario): Promise<{ status: string; syncKind: string; counts: Record<string, number> }> {
  const r = await runCli(['--json', 'run', s.file]);
  expect(r.code, r.stderr + r.stdout).toBe(0);
  return JSON.parse(r.stdout);
}

/** Target equals model (md5 over every row on both sides), no key twice, and `verify` agrees. */
async function expectConverged(s: Scenario): Promise<void> {
  const rows = await sameRows(s.f);
  expect(rows.target).toEqual(rows.model);
  const dups = await s.f.query<{ n: number }>(`SELECT count(*)::int AS n FROM (SELECT id FROM "${s.f.table}" GROUP BY id HAVING count(*) > 1) d`);
  expect(dups[0].n).toBe(0);
  expect(await verifyPipeline(loadPipeline(s.file))).toMatchObject({ equal: true, missing: 0, extra: 0, different: 0 });
}

/** Every killed run was closed in history ('failed', process died) by the run that took its lock over. */
async function expectDeadRunsClosed(s: Scenario): Promise<void> {
  const p = loadPipeline(s.file);
  const history = HistoryStore.open(p.stateDir);
  try {
    const runs = await history.listRuns(p.name, 100);
    const dead = runs.filter((r) => r.error?.includes('the process running it died'));
    expect(dead.length).toBe(s.pauses);
    expect(dead.every((r) => r.status === 'failed')).toBe(true);
    expect(runs.filter((r) => r.status === 'running')).toEqual([]);
  } finally {
    await history.close();
  }
}

describe('SIGKILL during the first run (a full sync straight into the empty target)', () => {
  let s: Scenario;
  afterAll(async () => {
    await s?.f.close();
  });

  // Without a separate staging table there is no merge: COPY into the target is the one transaction.
  it.each(['before-stage', 'copy', 'snapshot'])('killed at %s: the target holds all rows or none', async (point) => {
    s ??= await newScenario('crash_first', 'mirror');
    await killAt(s, point);
    const n = (await s.f.query<{ n: number }>(`SELECT count(*)::int AS n FROM "${s.f.table}"`))[0].n;
    expect(n).toBe(point === 'snapshot' ? ROWS : 0);
  });

  it('the next run finishes the dead run from the delivery ledger: its snapshot is saved, nothing is sent again', async () => {
    const r = await runToEnd(s);
    expect(r).toMatchObject({ status: 'success', syncKind: 'incremental' });
    expect(r.counts).toMatchObject({ sent: 0, inserted: 0, updated: 0, deleted: 0 });
    expect((r as unknown as { stages: { stage: string }[] }).stages.some((x) => /^reconciled: run \d+ had delivered/.test(x.stage))).toBe(true);
    await expectConverged(s);
    await expectDeadRunsClosed(s);
  });
});

describe.each(['upsert', 'mirror'] as const)('%s: SIGKILL at each point of an incremental run', (mode) => {
  let s: Scenario;
  let round = 0;
  beforeAll(async () => {
    s = await newScenario(`crash_${mode}`, mode);
    await runToEnd(s);
  }, 120_000);
  afterAll(async () => {
    await s?.f.close();
  });

  it.each(POINTS)('killed at %s: the target is untouched (or complete after COMMIT), and the next run converges', async (point) => {
    const k = round++;
    const before = await sameRows(s.f);
    expect(before.target).toEqual(before.model);
    // About 6,700 rows change (~1.8 MB of COPY text: several chunks), 1,000 arrive, and in mirror 1,000 leave.
    const [{ changed, removed }] = await s.f.warehouseRows<{ changed: string; removed: string }>(
      `SELECT count(*) FILTER (WHERE id % 3 = ${k % 3} ${mode === 'mirror' ? `AND id % 50 <> ${k}` : ''}) AS changed,
              count(*) FILTER (WHERE id % 50 = ${k}) AS removed FROM items`,
    );
    const next = ROWS + 1 + k * 1000;
    await s.f.warehouseSql([
      `UPDATE items SET v = v + 1 WHERE id % 3 = ${k % 3}`,
      `INSERT INTO items SELECT i, 'name ' || i || ' ' || repeat('y', 250), 7 FROM range(${next}, ${next + 1000}) t(i)`,
      ...(mode === 'mirror' ? [`DELETE FROM items WHERE id % 50 = ${k} AND id < ${next}`] : []),
    ]);

    await killAt(s, point);
    const after = await sameRows(s.f);
    // Killed before COMMIT: the target is as it was. Killed after it: it is the new model.
    expect(after.target).toEqual(point === 'snapshot' ? after.model : before.target);

    const r = await runToEnd(s);
    expect(r).toMatchObject({ status: 'success', syncKind: 'incremental' });
    const delta = { added: 1000, changed: Number(changed), removed: mode === 'mirror' ? Number(removed) : 0 };
    if (point === 'snapshot') {
      // The delivery ledger says the dead run's merge committed: its snapshot is saved from
      // the pending delta, and nothing is sent again.
      expect(r.counts).toMatchObject({ added: 0, changed: 0, removed: 0, sent: 0, inserted: 0, updated: 0, deleted: 0 });
    } else {
      expect(r.counts).toMatchObject({ ...delta, sent: delta.added + delta.changed, inserted: delta.added, updated: delta.changed, deleted: delta.removed });
    }
    await expectConverged(s);
    await expectDeadRunsClosed(s);
  });
});

describe('one run at a time', () => {
  let f: Fixture;
  afterAll(async () => {
    await f?.close();
  });

  it('a second run while one is paused exits with code 4 and a clear message, recorded as skipped', async () => {
    f = await openFixture('lock');
    await f.warehouseSql(`CREATE TABLE items AS SELECT i::INTEGER AS id, 'n' || i AS name, i AS v FROM range(1, 1001) t(i)`);
    await f.query(`CREATE TABLE "${f.table}" (id integer PRIMARY KEY, name text, v integer)`);
    const file = f.pipelineFile({ mode: 'upsert' });
    const p = loadPipeline(file);

    const holder = await startPaused(['run', file], 'before-stage', join(f.dir, 'pause'));
    expect(holder.paused).toBe(true);
    const second = await runCli(['run', file]);
    expect(second.code).toBe(4);
    expect(second.stderr).toMatch(new RegExp(`pipeline ${p.name} is already running \\(pid ${holder.run.child.pid} on .*\\); wait for it to finish`));
    const history = HistoryStore.open(p.stateDir);
    try {
      const [latest, running] = await history.listRuns(p.name, 2);
      expect(latest.status).toBe('skipped');
      expect(latest.error).toMatch(/already running/);
      expect(running.status).toBe('running');
    } finally {
      await history.close();
    }
    // Nothing was written by either.
    expect(await f.query(`SELECT count(*)::int AS n FROM "${f.table}"`)).toEqual([{ n: 0 }]);

    await killHard(holder.run);
    const third = await runCli(['run', file]);
    expect(third.code, third.stderr).toBe(0);
    const rows = await sameRows(f);
    expect(rows.target).toEqual(rows.model);
  });
});

describe('plain insert mode, killed between COMMIT and the snapshot', () => {
  let s: Scenario;
  afterAll(async () => {
    await s?.f.close();
  });

  it('the next run finishes the dead run from the delivery ledger instead of re-sending (which insert would refuse)', async () => {
    s = await newScenario('crash_insert', 'insert');
    await s.f.warehouseSql(`DELETE FROM items WHERE id > 2000`);
    await runToEnd(s);
    await s.f.warehouseSql(`INSERT INTO items SELECT i, 'late ' || i, 1 FROM range(${ROWS + 1}, ${ROWS + 11}) t(i)`);
    await killAt(s, 'snapshot');
    expect(await s.f.query(`SELECT count(*)::int AS n FROM "${s.f.table}"`)).toEqual([{ n: 2010 }]);
    const again = await runToEnd(s);
    expect(again).toMatchObject({ status: 'success', counts: { sent: 0, added: 0 } });
    expect(await s.f.query(`SELECT count(*)::int AS n FROM "${s.f.table}"`)).toEqual([{ n: 2010 }]);
    await expectConverged(s);
  });
});
