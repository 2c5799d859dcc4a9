import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { PG_URL, openTestDestination, tempDir, uniqueName, writeFile, type TestDestination } from '../support/databases.js';
import { startTestServer, usStatesPipeline, usStatesWarehouse, type TestServer } from './serve-fixtures.js';

/**
 * The HTTP API over real HTTP, against a real Postgres destination: the US-states pipeline
 * with one model row whose abbreviation does not fit the target's VARCHAR(2).
 */
describe('outflow serve: HTTP API', () => {
  let dir: string;
  let db: TestDestination;
  let table: string;
  let name: string;
  let server: TestServer;
  let runId: number;

  beforeAll(async () => {
    dir = tempDir();
    db = await openTestDestination('postgres', dir);
    table = uniqueName('serve_states');
    name = uniqueName('us_states');
    await db.query(`CREATE TABLE ${table} (name VARCHAR(100) PRIMARY KEY, abbreviation VARCHAR(2))`);
    const warehouse = await usStatesWarehouse(dir, [['Justania', 'JTX']]);
    const pipelines = join(dir, 'pipelines');
    // The before action keeps the run open for a second, so a second trigger meets it running.
    usStatesPipeline(pipelines, {
      name,
      warehouse,
      table,
      extra: `actions:\n  before:\n    - name: hold\n      sql: SELECT pg_sleep(1)\n`,
    });
    writeFile(join(pipelines, 'broken.yaml'), `name: broken\nsource: { type: duckdb, path: x.duckdb }\nmodel: { table: t }\ndestination: { type: postgres, url: postgres://h/db, table: t }\nprimary_key: id\nmode: sideways\n`);
    server = await startTestServer({ dir: pipelines, stateDir: join(dir, 'state'), env: { ...process.env, OUTFLOW_TEST_PG_URL: PG_URL } });
  });

  afterAll(async () => {
    await server?.stop();
    await db.query(`DROP TABLE IF EXISTS ${table}`);
    await db.close();
  });

  it('lists the valid pipeline and the invalid one with its error', async () => {
    const r = await server.get('/api/pipelines');
    expect(r.status).toBe(200);
    const byName = Object.fromEntries(r.body.pipelines.map((p: any) => [p.name, p]));
    expect(byName[name]).toMatchObject({ valid: true, lastRun: null, nextRun: null, running: null, mode: 'upsert', primaryKey: ['name'] });
    expect(byName[name].destination).toBe(`postgres 127.0.0.1:5432/test ${table}`);
    expect(byName.broken.valid).toBe(false);
    expect(byName.broken.error).toMatch(/broken\.yaml:6: mode: expected one of .*"upsert".*got "sideways"/);
    expect(server.logs.some((l) => /pipeline\.invalid .*broken/.test(l))).toBe(true);
  });

  it('triggers a run (202), refuses a second while it runs (409), and the run ends partial with the rejected row', async () => {
    const first = await server.post(`/api/pipelines/${name}/runs`);
    expect(first.status).toBe(202);
    runId = first.body.run_id;
    expect(runId).toBeGreaterThan(0);
    const second = await server.post(`/api/pipelines/${name}/runs`);
    expect(second.status).toBe(409);
    expect(second.body).toMatchObject({ run_id: runId });
    expect(second.body.error).toMatch(/already running/);

    const run = await server.waitForRun(name, runId);
    expect(run.status).toBe('partial');
    expect(run.trigger).toBe('api');
    expect(run.counts).toMatchObject({ read: 60, added: 60, inserted: 59, rejected: 1 });
    expect(run.stages.map((s: any) => s.stage)).toEqual(expect.arrayContaining(['connect', 'before actions', 'diff', 'stage', 'merge']));
    expect(run.stages.find((s: any) => s.stage === 'before actions').ms).toBeGreaterThanOrEqual(900);
    expect(run.rejected.total).toBe(1);
    expect(run.rejected.rows).toEqual([{ key: { name: 'Justania' }, column: 'abbreviation', reason: expect.stringMatching(/too long for type character varying\(2\)/) }]);
    expect(await db.query(`SELECT count(*)::int AS n FROM ${table}`)).toEqual([{ n: 59 }]);
    expect(await db.query(`SELECT name FROM ${table} WHERE name = 'Justania'`)).toEqual([]);
  });

  it('shows the last run in the list, pages runs and rejected rows, and finds a run by id', async () => {
    const list = await server.get('/api/pipelines');
    const p = list.body.pipelines.find((x: any) => x.name === name);
    expect(p.lastRun).toMatchObject({ id: runId, status: 'partial' });

    const runs = await server.get(`/api/pipelines/${name}/runs?limit=1&offset=0`);
    expect(runs.body).toMatchObject({ total: 1, limit: 1, offset: 0 });
    expect(runs.body.runs.map((r: any) => r.id)).toEqual([runId]);
    expect((await server.get(`/api/pipelines/${name}/runs?limit=1&offset=1`)).body.runs).toEqual([]);

    const byId = await server.get(`/api/runs/${runId}?rejected_limit=1&rejected_offset=1`);
    expect(byId.status).toBe(200);
    expect(byId.body).toMatchObject({ id: runId, pipeline: name, status: 'partial', rejected: { rows: [], total: 1, limit: 1, offset: 1 } });
  });

  it('previews without writing: the rejected row is the one change left', async () => {
    const r = await server.get(`/api/pipelines/${name}/preview`);
    expect(r.status).toBe(200);
    expect(r.body.counts).toMatchObject({ read: 60, added: 1, changed: 0, removed: 0 });
    expect(r.body.samples.added).toEqual([['Justania', 'JTX']]);
    expect(await db.query(`SELECT count(*)::int AS n FROM ${table}`)).toEqual([{ n: 59 }]);
  });

  it('shows the config text with its ${ENV} reference', async () => {
    const r = await server.get(`/api/pipelines/${name}/config`);
    expect(r.status).toBe(200);
    expect(r.body.file).toBe(`${name}.yaml`);
    expect(r.body.text).toContain('url: ${OUTFLOW_TEST_PG_URL}');
    expect(r.body.text).toContain(`table: ${table}`);
  });

  it('answers errors as JSON with a fitting status', async () => {
    expect(await server.get('/api/pipelines/nope/runs')).toMatchObject({ status: 404, body: { error: 'no pipeline named "nope"' } });
    const invalid = await server.post('/api/pipelines/broken/runs');
    expect(invalid.status).toBe(422);
    expect(invalid.body.error).toMatch(/pipeline broken is invalid: broken\.yaml:6: mode/);
    expect(await server.get('/api/runs/987654')).toMatchObject({ status: 404, body: { error: 'no run 987654' } });
    expect((await server.get(`/api/pipelines/${name}/runs?limit=abc`)).body.error).toMatch(/^limit: expected an integer/);
    expect((await server.get(`/api/pipelines/${name}/runs?limit=abc`)).status).toBe(400);
    const wrongMethod = await fetch(`${server.url}/api/pipelines`, { method: 'DELETE' });
    expect(wrongMethod.status).toBe(405);
    expect(await wrongMethod.json()).toEqual({ error: 'method DELETE not allowed here; use GET' });
    const crossSite = await fetch(`${server.url}/api/pipelines/${name}/runs`, { method: 'POST', headers: { origin: 'http://evil.example' } });
    expect(crossSite.status).toBe(403);
  });

  it('exposes Prometheus metrics per pipeline', async () => {
    const r = await server.get('/metrics');
    expect(r.status).toBe(200);
    expect(r.text).toContain('# TYPE outflow_runs_total counter');
    expect(r.text).toContain(`outflow_runs_total{pipeline="${name}",status="partial"} 1`);
    expect(r.text).toContain(`outflow_rows_total{pipeline="${name}",kind="inserted"} 59`);
    expect(r.text).toContain(`outflow_rejected_rows_total{pipeline="${name}"} 1`);
    expect(r.text).toMatch(new RegExp(`outflow_run_duration_seconds_count\\{pipeline="${name}"\\} 1\\n`));
    expect(r.text).toContain('outflow_pipeline_valid{pipeline="broken"} 0');
  });

  it('logs one line per event', async () => {
    const started = server.logs.filter((l) => l.includes('run.started') && l.includes(`run=${runId}`));
    const finished = server.logs.filter((l) => l.includes('run.finished') && l.includes(`run=${runId}`));
    expect(started).toHaveLength(1);
    expect(finished).toHaveLength(1);
    expect(finished[0]).toMatch(/status=partial .*read=60 .*rejected=1/);
  });
});
