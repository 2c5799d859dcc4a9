import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { PG_URL, duckdbExec, openTestDestination, tempDir, uniqueName, type TestDestination } from '../support/databases.js';
import { startTestServer, usStatesPipeline, usStatesWarehouse, type TestServer } from './serve-fixtures.js';

/** A local webhook receiver: records every POST; /flaky answers 503 to its first call. */
async function webhookReceiver() {
  const received: { path: string; body: any }[] = [];
  let flakyCalls = 0;
  const server: Server = createServer((req, res) => {
    let data = '';
    req.on('data', (c) => (data += c));
    req.on('end', () => {
      received.push({ path: req.url ?? '', body: JSON.parse(data) });
      if (req.url === '/flaky' && flakyCalls++ === 0) res.writeHead(503);
      else res.writeHead(200);
      res.end('ok');
    });
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { base, received, close: () => new Promise<void>((ok) => server.close(() => ok())) };
}

describe('outflow serve: alerts', () => {
  let dir: string;
  let db: TestDestination;
  let hook: Awaited<ReturnType<typeof webhookReceiver>>;
  let server: TestServer;
  let warehouse: string;
  const t = { failing: uniqueName('alert_fail'), ok: uniqueName('alert_ok'), hooks: uniqueName('alert_hooks'), share: uniqueName('alert_share') };

  beforeAll(async () => {
    dir = tempDir();
    db = await openTestDestination('postgres', dir);
    hook = await webhookReceiver();
    warehouse = await usStatesWarehouse(dir, [['Justania', 'JTX']]);
    await db.query(`CREATE TABLE ${t.share} (name VARCHAR(100) PRIMARY KEY, abbreviation VARCHAR(2))`);
    const pipelines = join(dir, 'pipelines');
    usStatesPipeline(pipelines, {
      name: 'failing',
      warehouse,
      table: t.failing,
      extra: `actions:\n  before:\n    - name: divide\n      sql: SELECT 1/0\nalerts:\n  - on: failure\n    webhook: ${hook.base}/failing\n  - on: success\n    webhook: ${hook.base}/failing-success\n`,
    });
    usStatesPipeline(pipelines, { name: 'fine', warehouse, table: t.ok, extra: `alerts:\n  - on: failure\n    webhook: ${hook.base}/fine-failure\n` });
    // A webhook that cannot be reached (closed port) must leave the run as it was.
    usStatesPipeline(pipelines, {
      name: 'webhooks',
      warehouse,
      table: t.hooks,
      extra: `alerts:\n  - on: success\n    webhook: http://127.0.0.1:1/unreachable\n  - on: success\n    webhook: ${hook.base}/flaky\n`,
    });
    usStatesPipeline(pipelines, {
      name: 'shares',
      warehouse,
      table: t.share,
      extra: `state:\n  dir: ${join(dir, 'shares-state')}\nalerts:\n  - on: rejected_share\n    threshold: 0.01\n    webhook: ${hook.base}/share\n  - on: row_count_change\n    threshold: 0.2\n    webhook: ${hook.base}/count\n`,
    });
    server = await startTestServer({ dir: pipelines, env: { ...process.env, OUTFLOW_TEST_PG_URL: PG_URL }, delivery: { attempts: 3, timeoutMs: 1000, backoffMs: 50 } });
  });
  afterAll(async () => {
    await server?.stop();
    await hook.close();
    await db.query(`DROP TABLE IF EXISTS ${t.failing}, ${t.ok}, ${t.hooks}, ${t.share}`);
    await db.close();
  });

  async function runToEnd(name: string, expectsAlert = true) {
    const { status, body } = await server.post(`/api/pipelines/${name}/runs`);
    expect(status).toBe(202);
    const run = await server.waitForRun(name, body.run_id);
    // Alerts go out after the run is recorded: wait until the delivery for this run is logged.
    const until = Date.now() + (expectsAlert ? 10_000 : 0);
    while (!server.logs.some((l) => /alert\.(sent|failed)/.test(l) && l.includes(`run=${run.id} `)) && Date.now() < until) {
      await new Promise((ok) => setTimeout(ok, 100));
    }
    await new Promise((ok) => setTimeout(ok, 300));
    return run;
  }

  it('posts exactly one alert for a failed run, with its status and error', async () => {
    const run = await runToEnd('failing');
    expect(run.status).toBe('failed');
    const posts = hook.received.filter((r) => r.path.startsWith('/failing'));
    expect(posts).toHaveLength(1);
    expect(posts[0].path).toBe('/failing');
    expect(posts[0].body).toMatchObject({
      pipeline: 'failing',
      run_id: run.id,
      status: 'failed',
      alert: 'failure',
      error: expect.stringMatching(/action "divide" \(before\) failed: .*division by zero/),
      url: `${server.url}/pipelines/failing/runs/${run.id}`,
      counts: expect.objectContaining({ read: 0, rejected: 0 }),
    });
    expect(posts[0].body.text).toMatch(new RegExp(`^:x: outflow pipeline \\*failing\\* run ${run.id} failed: .*division by zero.* <${server.url}/pipelines/failing/runs/${run.id}\\|open the run>$`));
  });

  it('sends nothing for a success when only failure is asked for', async () => {
    const run = await runToEnd('fine', false);
    expect(run.status).toBe('success');
    expect(hook.received.filter((r) => r.path.startsWith('/fine'))).toHaveLength(0);
    expect(server.logs.filter((l) => l.includes('alert.'))).not.toContainEqual(expect.stringContaining('pipeline=fine '));
  });

  it('retries a webhook that fails, and a dead webhook never fails the run', async () => {
    const run = await runToEnd('webhooks');
    expect(run.status).toBe('success');
    await new Promise((ok) => setTimeout(ok, 500)); // the unreachable one takes its three attempts
    // /flaky answered 503 once, then took the retry.
    expect(hook.received.filter((r) => r.path === '/flaky').map((r) => r.body.run_id)).toEqual([run.id, run.id]);
    expect(server.logs.filter((l) => l.includes('alert.failed') && l.includes('webhook=http://127.0.0.1:1'))).toHaveLength(1);
    expect(server.logs.filter((l) => l.includes('alert.retry') && l.includes('webhook=http://127.0.0.1:1'))).toHaveLength(2);
  });

  it('alerts when the rejected share passes its threshold, and when the row count moves more than its share', async () => {
    const first = await runToEnd('shares');
    expect(first).toMatchObject({ status: 'partial', counts: { read: 60, rejected: 1 } });
    expect(hook.received.filter((r) => r.path === '/share').map((r) => r.body.run_id)).toEqual([first.id]);
    expect(hook.received.filter((r) => r.path === '/share')[0].body.text).toContain('rejected 1 of 60 rows (1.7%, threshold 1%)');
    expect(hook.received.filter((r) => r.path === '/count')).toHaveLength(0); // no earlier run to compare with

    await duckdbExec(warehouse, `INSERT INTO state_abbreviations SELECT 'State ' || i, 'S' || (i % 10) FROM range(30) t(i)`);
    const second = await runToEnd('shares');
    expect(second.counts).toMatchObject({ read: 90 });
    const count = hook.received.filter((r) => r.path === '/count');
    expect(count.map((r) => r.body.run_id)).toEqual([second.id]);
    expect(count[0].body).toMatchObject({ alert: 'row_count_change', status: 'partial' });
    expect(count[0].body.text).toContain('read 90 rows, 60 the run before (50% change, threshold 20%)');
  });
});
