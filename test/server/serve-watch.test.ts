import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { PG_URL, openTestDestination, tempDir, uniqueName, type TestDestination } from '../support/databases.js';
import { startTestServer, usStatesPipeline, usStatesWarehouse, type TestServer } from './serve-fixtures.js';

const env = () => ({ ...process.env, OUTFLOW_TEST_PG_URL: PG_URL });

/** Polls until `check` holds (the watcher reacts after a debounce; no test asserts on how long). */
async function eventually(check: () => Promise<boolean> | boolean, what: string): Promise<void> {
  const until = Date.now() + 30_000;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`not seen within 30 s: ${what}`);
    await new Promise((ok) => setTimeout(ok, 100));
  }
}

describe('outflow serve picks up pipeline files without a restart', () => {
  let dir: string;
  let db: TestDestination;
  let warehouse: string;
  const tables: string[] = [];
  beforeAll(async () => {
    dir = tempDir();
    db = await openTestDestination('postgres', dir);
    warehouse = await usStatesWarehouse(dir);
  });
  afterAll(async () => {
    if (tables.length) await db.query(`DROP TABLE IF EXISTS ${tables.join(', ')}`);
    await db.close();
  });
  const table = () => {
    const t = uniqueName('serve_watch');
    tables.push(t);
    return t;
  };

  it('adds a new file, applies an edited one from the next run, and drops a removed one', async () => {
    const pipelines = join(dir, 'pipelines');
    const first = uniqueName('first');
    usStatesPipeline(pipelines, { name: first, warehouse, table: table() });
    let server: TestServer | undefined;
    try {
      server = await startTestServer({ dir: pipelines, stateDir: join(dir, 'state'), env: env() });
      const names = async () => ((await server!.get('/api/pipelines')).body.pipelines as { name: string }[]).map((p) => p.name).sort();
      expect(await names()).toEqual([first]);

      // Added, in a sub-folder too.
      const second = uniqueName('second');
      usStatesPipeline(join(pipelines, 'more'), { name: second, warehouse, table: table() });
      await eventually(async () => (await names()).includes(second), 'the added pipeline');
      expect(server.logs.join('\n')).toContain('pipeline.added');

      // Edited: the next run writes into the new table.
      const moved = table();
      usStatesPipeline(pipelines, { name: first, warehouse, table: moved });
      await eventually(() => server!.entries.find((e) => e.name === first)?.pipeline?.spec.destination.table === moved, 'the edited pipeline');
      const run = (await server.post(`/api/pipelines/${first}/runs`)).body;
      expect((await server.waitForRun(first, run.run_id)).status).toBe('success');
      expect(await db.query(`SELECT count(*)::int AS n FROM ${moved}`)).toEqual([{ n: 59 }]); // the US-states model

      // Broken, then removed.
      usStatesPipeline(join(pipelines, 'more'), { name: second, warehouse, table: table(), extra: 'mode: sideways\n' });
      await eventually(() => !!server!.entries.find((e) => e.name === second)?.error, 'the broken pipeline');
      rmSync(join(pipelines, 'more', `${second}.yaml`));
      await eventually(async () => !(await names()).includes(second), 'the removed pipeline');
      expect(server.logs.join('\n')).toContain('pipeline.removed');
    } finally {
      await server?.stop();
    }
  });
});
