import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { HistoryStore } from '../../src/state/history-store.js';
import { PG_URL, openTestDestination, tempDir, uniqueName, type TestDestination } from '../support/databases.js';
import { startTestServer, usStatesPipeline, usStatesWarehouse, type TestServer } from './serve-fixtures.js';

const env = () => ({ ...process.env, OUTFLOW_TEST_PG_URL: PG_URL });

/** Reads /api/events until `until` says stop or the stream ends; returns the run events seen. */
async function readEvents(url: string, until: (events: any[]) => boolean, timeoutMs = 30_000): Promise<{ events: any[]; ended: boolean }> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  const events: any[] = [];
  let ended = false;
  try {
    const res = await fetch(url + '/api/events', { signal: controller.signal });
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let buf = '';
    for (;;) {
      const chunk = await reader.read();
      if (chunk.done) {
        ended = true;
        break;
      }
      buf += decoder.decode(chunk.value, { stream: true });
      const parts = buf.split('\n\n');
      buf = parts.pop()!;
      for (const p of parts) {
        const data = /^data: (.*)$/m.exec(p);
        if (data) events.push(JSON.parse(data[1]));
      }
      if (until(events)) break;
    }
  } catch (e) {
    if ((e as Error).name !== 'AbortError') throw e;
  } finally {
    clearTimeout(timer);
    controller.abort();
  }
  return { events, ended };
}

describe('outflow serve: runs, live events, locks, pauses and rejected rows', () => {
  let dir: string;
  let db: TestDestination;
  let warehouse: string;
  const tables: string[] = [];

  beforeAll(async () => {
    dir = tempDir();
    db = await openTestDestination('postgres', dir);
    warehouse = await usStatesWarehouse(dir, [['Justania', 'JTX']]);
  });
  afterAll(async () => {
    if (tables.length) await db.query(`DROP TABLE IF EXISTS ${tables.join(', ')}`);
    await db.close();
  });

  async function table(): Promise<string> {
    const t = uniqueName('serve_live');
    tables.push(t);
    await db.query(`CREATE TABLE ${t} (name VARCHAR(100) PRIMARY KEY, abbreviation VARCHAR(2))`);
    return t;
  }

  describe('a pipeline whose model has one row the target refuses', () => {
    let server: TestServer;
    let name: string;
    let firstRun: number;
    let secondRun: number;
    let live: Promise<{ events: any[]; ended: boolean }>;

    beforeAll(async () => {
      name = uniqueName('rej');
      const pipelines = join(dir, name);
      usStatesPipeline(pipelines, { name, warehouse, table: await table() });
      server = await startTestServer({ dir: pipelines, stateDir: join(dir, `${name}-state`), env: env() });
    });
    afterAll(() => server?.stop());

    it('streams run.started before any progress, a runId on every event, and counts on run.finished', async () => {
      live = readEvents(server.url, (ev) => ev.some((e) => e.type === 'run.finished'));
      await new Promise((ok) => setTimeout(ok, 200)); // the stream is open before the run starts
      const { body } = await server.post(`/api/pipelines/${name}/runs`);
      firstRun = body.run_id;
      const { events } = await live;
      const mine = events.filter((e) => e.pipeline === name);
      expect(mine[0]).toMatchObject({ type: 'run.started', runId: firstRun, status: 'running' });
      expect(mine.filter((e) => e.type === 'run.progress').length).toBeGreaterThan(0);
      for (const e of mine) {
        expect(e.runId).toBe(firstRun);
        expect(typeof e.time).toBe('string');
      }
      expect(mine.at(-1)).toMatchObject({ type: 'run.finished', status: 'partial', counts: { read: 60, added: 60, inserted: 59, rejected: 1, retried: 0 } });
    });

    it("keeps the run's event log for its page", async () => {
      const { body } = await server.get(`/api/pipelines/${name}/runs/${firstRun}/events`);
      expect(body.events[0]).toMatchObject({ type: 'run.started', runId: firstRun });
      expect(body.events.map((e: any) => e.stage)).toEqual(expect.arrayContaining(['connect', 'diff', 'stage', 'merge']));
      expect(body.events.at(-1)).toMatchObject({ type: 'run.finished', counts: { rejected: 1 } });
    });

    it('counts the refused row sent again as retried and still rejected, not added; the metrics count it once', async () => {
      secondRun = (await server.post(`/api/pipelines/${name}/runs`)).body.run_id;
      const run = await server.waitForRun(name, secondRun);
      expect(run.counts).toMatchObject({ read: 60, added: 0, changed: 0, retried: 1, rejected: 1, stillRejected: 1 });
      const metrics = (await server.get('/metrics')).text;
      expect(metrics).toContain(`outflow_rejected_rows_total{pipeline="${name}"} 1\n`);
      expect(metrics).toContain(`outflow_rows_total{pipeline="${name}",kind="added"} 60\n`);
      expect(metrics).toContain(`outflow_rows_total{pipeline="${name}",kind="retried"} 1\n`);
      expect(metrics).toContain(`outflow_rows_total{pipeline="${name}",kind="still_rejected"} 1\n`);
    });

    it('groups rejected rows by reason, searches them and exports them as CSV', async () => {
      const all = await server.get(`/api/pipelines/${name}/runs/${secondRun}/rejected`);
      expect(all.status).toBe(200);
      expect(all.body.groups).toEqual([{ column: 'abbreviation', reason: expect.stringMatching(/too long for type character varying\(2\)/), count: 1 }]);
      expect(all.body.total).toBe(1);
      expect((await server.get(`/api/pipelines/${name}/runs/${secondRun}/rejected?q=justania`)).body.rows).toEqual([
        { key: { name: 'Justania' }, column: 'abbreviation', reason: expect.any(String) },
      ]);
      expect((await server.get(`/api/pipelines/${name}/runs/${secondRun}/rejected?q=nowhere`)).body).toMatchObject({ rows: [], total: 0 });
      const csv = await fetch(`${server.url}/api/pipelines/${name}/runs/${secondRun}/rejected.csv`);
      expect(csv.headers.get('content-type')).toMatch(/^text\/csv/);
      expect(csv.headers.get('content-disposition')).toContain(`${name}-run-${secondRun}-rejected.csv`);
      const lines = (await csv.text()).trim().split('\r\n');
      expect(lines[0]).toBe('key,column,reason');
      expect(lines[1]).toMatch(/^"\{""name"":""Justania""\}",abbreviation,.*too long for type character varying\(2\)/);
      expect(lines).toHaveLength(2);
    });
  });

  it('a pipeline locked by another process: "running elsewhere", a refused trigger records nothing and has no run_id', async () => {
    const name = uniqueName('locked');
    const pipelines = join(dir, name);
    const stateDir = join(dir, `${name}-state`);
    usStatesPipeline(pipelines, { name, warehouse, table: await table() });
    const server = await startTestServer({ dir: pipelines, stateDir, env: env() });
    // The lock an `outflow run` in a terminal takes (this test process plays that process).
    const cli = HistoryStore.open(stateDir);
    try {
      await cli.acquireLock(name);
      const status = (await server.get(`/api/pipelines/${name}`)).body;
      expect(status.running).toBeNull();
      expect(status.runningElsewhere).toMatchObject({ since: expect.any(String) });
      for (let i = 0; i < 3; i++) {
        const refused = await server.post(`/api/pipelines/${name}/runs`);
        expect(refused.status).toBe(409);
        expect(refused.body.error).toMatch(/running in another process/);
        expect('run_id' in refused.body).toBe(false);
      }
      expect((await server.get(`/api/pipelines/${name}/runs`)).body.total).toBe(0);
      await cli.releaseLock(name);
      expect((await server.get(`/api/pipelines/${name}`)).body.runningElsewhere).toBeNull();
    } finally {
      await cli.close();
      await server.stop();
    }
  });

  it('pauses and resumes a schedule, and a restarted server keeps it paused', async () => {
    const name = uniqueName('paused');
    const pipelines = join(dir, name);
    const stateDir = join(dir, `${name}-state`);
    usStatesPipeline(pipelines, { name, warehouse, table: await table(), extra: 'every: 1s\n' });
    let server = await startTestServer({ dir: pipelines, stateDir, env: env() });
    try {
      const paused = await server.post(`/api/pipelines/${name}/pause`);
      expect(paused.status).toBe(200);
      expect(paused.body).toMatchObject({ paused: true, nextRun: null });
      expect(server.logs.some((l) => l.includes('schedule.paused'))).toBe(true);
      await server.stop();

      server = await startTestServer({ dir: pipelines, stateDir, env: env() });
      expect((await server.get(`/api/pipelines/${name}`)).body).toMatchObject({ paused: true, nextRun: null });
      // Due every second, yet paused: nothing runs.
      await new Promise((ok) => setTimeout(ok, 2500));
      expect((await server.get(`/api/pipelines/${name}/runs`)).body.total).toBe(0);

      const resumed = await server.post(`/api/pipelines/${name}/resume`);
      expect(resumed.body).toMatchObject({ paused: false, nextRun: expect.any(String) });
      const until = Date.now() + 20_000;
      while ((await server.get(`/api/pipelines/${name}/runs`)).body.total === 0) {
        if (Date.now() > until) throw new Error('the resumed schedule never ran');
        await new Promise((ok) => setTimeout(ok, 200));
      }
      expect((await server.get(`/api/pipelines/${name}/runs`)).body.runs.at(-1).trigger).toBe('schedule');
    } finally {
      await server.stop();
    }
  });

  it('flushes the last events to live streams before the server exits', async () => {
    const name = uniqueName('flush');
    const pipelines = join(dir, name);
    usStatesPipeline(pipelines, { name, warehouse, table: await table(), extra: `actions:\n  before:\n    - name: hold\n      sql: SELECT pg_sleep(8)\n` });
    const server = await startTestServer({ dir: pipelines, stateDir: join(dir, `${name}-state`), env: env(), graceMs: 200 });
    const live = readEvents(server.url, () => false, 40_000);
    await new Promise((ok) => setTimeout(ok, 200));
    const { body } = await server.post(`/api/pipelines/${name}/runs`);
    const until = Date.now() + 10_000;
    while ((await server.get(`/api/pipelines/${name}/runs/${body.run_id}`)).body.progress?.stage !== 'before actions') {
      if (Date.now() > until) throw new Error('the run never reached its before action');
      await new Promise((ok) => setTimeout(ok, 100));
    }
    await server.stop();
    const { events, ended } = await live;
    expect(ended).toBe(true);
    expect(events.at(-1)).toMatchObject({ type: 'run.finished', runId: body.run_id, status: 'cancelled', counts: expect.any(Object) });
  });
});
