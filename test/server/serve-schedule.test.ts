import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { PG_URL, openTestDestination, tempDir, uniqueName, type TestDestination } from '../support/databases.js';
import { startTestServer, usStatesPipeline, usStatesWarehouse, type TestServer } from './serve-fixtures.js';

const env = () => ({ ...process.env, OUTFLOW_TEST_PG_URL: PG_URL });

describe('outflow serve: schedules and shutdown', () => {
  let dir: string;
  let db: TestDestination;
  const tables: string[] = [];
  let warehouse: string;

  beforeAll(async () => {
    dir = tempDir();
    db = await openTestDestination('postgres', dir);
    warehouse = await usStatesWarehouse(dir);
  });
  afterAll(async () => {
    if (tables.length) await db.query(`DROP TABLE IF EXISTS ${tables.join(', ')}`);
    await db.close();
  });

  function table(): string {
    const t = uniqueName('serve_sched');
    tables.push(t);
    return t;
  }

  it('runs an `every: 2s` pipeline on schedule and records a due run that meets the running one as skipped', async () => {
    const name = uniqueName('every');
    const pipelines = join(dir, name);
    // The before action holds each run open for 5 s, so the due times at +2 s and +4 s meet it running.
    usStatesPipeline(pipelines, { name, warehouse, table: table(), extra: `every: 2s\nactions:\n  before:\n    - name: hold\n      sql: SELECT pg_sleep(5)\n` });
    const server = await startTestServer({ dir: pipelines, stateDir: join(dir, `${name}-state`), env: env() });
    try {
      const listed = (await server.get('/api/pipelines')).body.pipelines[0];
      expect(listed.schedule).toEqual({ everyMs: 2000 });
      const next = Date.parse(listed.nextRun) - Date.now();
      expect(next).toBeGreaterThan(0);
      expect(next).toBeLessThanOrEqual(3000);

      let runs: any[] = [];
      const until = Date.now() + 30_000;
      while (Date.now() < until) {
        runs = (await server.get(`/api/pipelines/${name}/runs?limit=50`)).body.runs.reverse();
        if (runs.some((r) => r.status === 'success') && runs.some((r) => r.status === 'skipped')) break;
        await new Promise((ok) => setTimeout(ok, 250));
      }
      const first = runs.find((r) => r.status === 'success');
      expect(first).toMatchObject({ trigger: 'schedule', counts: { read: 59, inserted: 59 } });
      const skipped = runs.filter((r) => r.status === 'skipped');
      expect(skipped.length).toBeGreaterThanOrEqual(1);
      for (const s of skipped) {
        expect(s.trigger).toBe('schedule');
        expect(s.error).toMatch(new RegExp(`pipeline ${name} is already running \\(pid ${process.pid} .*run ${first.id}\\)`));
        // Skipped while the first run was going.
        expect(Date.parse(s.startedAt)).toBeGreaterThan(Date.parse(first.startedAt));
        expect(Date.parse(s.startedAt)).toBeLessThan(Date.parse(first.finishedAt));
      }
      expect(runs.filter((r) => r.status === 'running').length).toBeLessThanOrEqual(1);
      expect(server.logs.some((l) => /run\.skipped .*trigger=schedule/.test(l))).toBe(true);
    } finally {
      await server.stop();
    }
  });

  it('reports the next time of a cron schedule in its time zone, and refuses a bad pattern', async () => {
    const pipelines = join(dir, uniqueName('cron'));
    usStatesPipeline(pipelines, { name: 'quarterly', warehouse, table: table(), extra: `schedule: "*/15 * * * *"\ntimezone: Asia/Kolkata\n` });
    usStatesPipeline(pipelines, { name: 'badcron', warehouse, table: table(), extra: `schedule: "every tuesday"\n` });
    const server = await startTestServer({ dir: pipelines, stateDir: join(dir, 'cron-state'), env: env() });
    try {
      const byName = Object.fromEntries((await server.get('/api/pipelines')).body.pipelines.map((p: any) => [p.name, p]));
      expect(byName.quarterly.schedule).toEqual({ cron: '*/15 * * * *', timezone: 'Asia/Kolkata' });
      const next = new Date(byName.quarterly.nextRun);
      expect(next.getTime() - Date.now()).toBeLessThanOrEqual(15 * 60_000);
      expect(next.getUTCMinutes() % 15).toBe(0); // Kolkata is UTC+5:30: */15 there is */15 in UTC too
      expect(byName.badcron).toMatchObject({ valid: false });
      expect(byName.badcron.error).toMatch(/^badcron\.yaml: schedule: not a cron pattern/);
    } finally {
      await server.stop();
    }
  });

  it('on shutdown cancels a run that outlasts the grace period and records it as cancelled', async () => {
    const name = uniqueName('held');
    const pipelines = join(dir, name);
    usStatesPipeline(pipelines, { name, warehouse, table: table(), extra: `actions:\n  before:\n    - name: hold\n      sql: SELECT pg_sleep(8)\n` });
    const stateDir = join(dir, `${name}-state`);
    const server = await startTestServer({ dir: pipelines, stateDir, env: env(), graceMs: 300 });
    const { body } = await server.post(`/api/pipelines/${name}/runs`);
    const until = Date.now() + 10_000;
    while ((await server.get(`/api/pipelines/${name}/runs/${body.run_id}`)).body.progress?.stage !== 'before actions') {
      if (Date.now() > until) throw new Error('the run never reached its before action');
      await new Promise((ok) => setTimeout(ok, 100));
    }
    const t0 = Date.now();
    await server.stop();
    expect(Date.now() - t0).toBeLessThan(5_000);
    const { HistoryStore } = await import('../../src/state/history-store.js');
    const history = HistoryStore.open(stateDir);
    try {
      expect(await history.getRun(body.run_id)).toMatchObject({ status: 'cancelled', error: 'the run was cancelled' });
      expect(await history.isLocked(name)).toBe(false);
    } finally {
      await history.close();
    }
    expect(server.logs.some((l) => l.includes('run.cancelling') && l.includes(`run=${body.run_id}`))).toBe(true);
    expect(server.logs.at(-1)).toMatch(/server\.stopped/);
  });
});
