import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadPipeline } from '../../src/config/load-pipeline.js';
import { runPipeline } from '../../src/engine/run-pipeline.js';
import { openHistory } from '../../src/state/history.js';
import { PG_URL, tempDir, uniqueName } from '../support/databases.js';
import { stateSchema, withPg } from '../support/state-database.js';
import { startTestServer, usStatesPipeline, usStatesWarehouse } from './serve-fixtures.js';

const state = stateSchema();
const env = () => ({ ...process.env, OUTFLOW_TEST_PG_URL: PG_URL });
const table = uniqueName('serve_shared');

afterAll(async () => {
  await withPg((c) => c.query(`DROP TABLE IF EXISTS "${table}"`));
  await state.drop();
});

describe('outflow serve with a state database', () => {
  it('shows runs made elsewhere, counts them in /metrics, refuses a run another process holds and records its own runs there', async () => {
    const dir = tempDir('outflow-serve-shared-');
    const name = uniqueName('shared');
    const warehouse = await usStatesWarehouse(dir);
    const file = usStatesPipeline(join(dir, 'pipelines'), { name, warehouse, table });
    // A run on "another machine": its own state folder, the same state database.
    const elsewhere = await runPipeline(loadPipeline(file, { stateDir: join(dir, 'elsewhere'), stateUrl: state.url, env: env() }));
    expect(elsewhere.status).toBe('success');

    const server = await startTestServer({ dir: join(dir, 'pipelines'), stateDir: join(dir, 'server'), stateUrl: state.url, env: env() });
    try {
      const status = (await server.get(`/api/pipelines/${name}`)).body;
      expect(status.lastRun).toMatchObject({ id: elsewhere.runId, status: 'success' });
      expect((await server.get(`/api/pipelines/${name}/runs`)).body.total).toBe(1);
      expect((await server.get(`/api/runs/${elsewhere.runId}`)).body).toMatchObject({ pipeline: name, status: 'success', rejected: { total: 0 } });
      const metrics = (await server.get('/metrics')).text;
      expect(metrics).toContain(`outflow_runs_total{pipeline="${name}",status="success"} 1`);
      expect(metrics).toMatch(new RegExp(`outflow_rows_total\\{pipeline="${name}",kind="read"\\} [1-9]`));

      // Another process holds the lock: shown as running elsewhere, a click refused and not recorded.
      const other = await openHistory({ stateDir: join(dir, 'other'), stateUrl: state.url });
      try {
        await other.acquireLock(name);
        expect((await server.get(`/api/pipelines/${name}`)).body.runningElsewhere).toMatchObject({ since: expect.any(String) });
        const refused = await server.post(`/api/pipelines/${name}/runs`);
        expect(refused.status).toBe(409);
        expect(refused.body.error).toMatch(/running in another process/);
      } finally {
        await other.close();
      }
      expect((await server.get(`/api/pipelines/${name}`)).body.runningElsewhere).toBeNull();

      const started = await server.post(`/api/pipelines/${name}/runs`);
      expect(started.status, JSON.stringify(started.body)).toBe(202);
      expect(await server.waitForRun(name, started.body.run_id)).toMatchObject({ status: 'success' });
    } finally {
      await server.stop();
    }
    // The server's run is in the state database, for every machine to see.
    const h = await openHistory({ stateDir: join(dir, 'third'), stateUrl: state.url });
    try {
      expect((await h.listRuns(name)).map((r) => [r.number, r.status])).toEqual([
        [2, 'success'],
        [1, 'success'],
      ]);
    } finally {
      await h.close();
    }
  });
});
