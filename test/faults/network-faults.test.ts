import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { runPipeline, type ProgressEvent } from '../../src/engine/run-pipeline.js';
import { verifyPipeline } from '../../src/engine/verify.js';
import type { RunResult } from '../../src/state/run-result.js';
import { PG_URL } from '../support/databases.js';
import { TcpProxy, type Fault } from '../support/tcp-proxy.js';
import { openFaultFixture, type FaultFixture } from '../support/fault-pipeline.js';

/**
 * The fault-injection suite: one pipeline (mirror, 60 000 rows, ~5 MB of COPY data) runs
 * through a TCP proxy in front of the real Postgres while the proxy (or pg_terminate_backend)
 * breaks the connection at a chosen moment. Every run must converge after retries, and
 * `verify` must then find the target equal to the model: no row lost, none duplicated.
 */
const ROWS = 60_000;
const RETRY = `retry:
  attempts: 5
  initial_delay: 50ms
  max_delay: 400ms
timeouts:
  connect: 2s
  statement: 3s
`;

interface Outcome {
  scenario: string;
  converged: boolean;
  retries: number;
  lost: number;
  duplicated: number;
}
const outcomes: Outcome[] = [];

describe('fault injection: runs converge after transient faults', () => {
  let fx: FaultFixture;
  let proxy: TcpProxy;
  let target: pg.Client;

  beforeAll(async () => {
    fx = await openFaultFixture('faults', ROWS);
    const u = new URL(PG_URL);
    proxy = await TcpProxy.start({ host: u.hostname, port: Number(u.port || 5432) });
    target = fx.pg;
  });
  afterAll(async () => {
    await proxy.close();
    await fx.close();
    const converged = outcomes.filter((o) => o.converged).length;
    // The figures the reliability docs quote.
    console.log(
      `[faults] ${outcomes.length} scenarios run, ${converged} converged; rows lost ${outcomes.reduce((a, o) => a + o.lost, 0)}, duplicated ${outcomes.reduce((a, o) => a + o.duplicated, 0)}\n` +
        outcomes.map((o) => `  ${o.converged ? 'ok  ' : 'FAIL'} ${o.scenario} (retries ${o.retries}, lost ${o.lost}, duplicated ${o.duplicated})`).join('\n'),
    );
  });

  /** Runs the pipeline under a fault (armed by `arm`), then verifies and counts. */
  async function runUnder(
    scenario: string,
    arm: () => void | Promise<void>,
    opts: { expectRetry?: boolean; onProgress?: (e: ProgressEvent) => void } = {},
  ): Promise<RunResult> {
    const p = fx.pipeline(proxy.urlFor(PG_URL), RETRY);
    const firedBefore = proxy.fired;
    await arm();
    const r = await runPipeline(p, { onProgress: opts.onProgress });
    proxy.clear();
    const retries = r.stages.filter((s) => s.stage.startsWith('retry ')).length;
    const v = await verifyPipeline(p);
    const counts = await fx.targetCounts();
    const outcome: Outcome = {
      scenario,
      converged: r.status === 'success' && v.equal,
      retries,
      lost: v.missing,
      duplicated: counts.duplicated + v.extra,
    };
    outcomes.push(outcome);
    expect(r.error, scenario).toBeUndefined();
    expect(r.status).toBe('success');
    expect(v).toMatchObject({ equal: true, missing: 0, extra: 0, different: 0, modelRows: v.destinationRows });
    expect(counts.duplicated).toBe(0);
    if (opts.expectRetry !== false) {
      // The fault really happened and really cost an attempt.
      expect(proxy.fired > firedBefore || retries > 0).toBe(true);
      expect(retries).toBeGreaterThanOrEqual(1);
    }
    return r;
  }

  const inject = (f: Fault) => () => proxy.inject(f);

  it('connection refused twice at connect', async () => {
    const r = await runUnder('refused ×2 at connect (first run: full load)', inject({ kind: 'refuse', connections: 2 }));
    expect(r.counts.inserted).toBe(ROWS);
    expect(r.stages.filter((s) => s.stage.startsWith('retry ')).length).toBe(2);
  });

  it('connection cut mid-COPY of a staging load', async () => {
    await fx.model(`UPDATE m SET amount = amount + 1 WHERE id % 2 = 0`);
    const r = await runUnder('cut after 1 MB client→server during COPY', inject({ kind: 'cut-after-bytes', bytes: 1_000_000 }));
    expect(r.counts.updated).toBe(ROWS / 2);
  });

  it('connection cut just before the merge statement', async () => {
    await fx.model([`UPDATE m SET name = name || '!' WHERE id % 3 = 0`, `INSERT INTO m SELECT 100000 + i, 'new', 1, TIMESTAMP '2024-06-01' FROM range(100) t(i)`]);
    const r = await runUnder('cut before ON CONFLICT (merge never reached the server)', inject({ kind: 'cut-on', pattern: 'ON CONFLICT', when: 'before' }));
    expect(r.counts).toMatchObject({ inserted: 100, updated: ROWS / 3 });
  });

  it('merge committed but its answer lost (ambiguous COMMIT)', async () => {
    await fx.model(`UPDATE m SET amount = amount * 2 WHERE id % 5 = 0`);
    const r = await runUnder('cut after COMMIT was sent (server committed, client never heard)', inject({ kind: 'cut-on', pattern: 'COMMIT', when: 'after' }));
    // The retry recomputes the diff; the target already holds the values, so the upsert changes nothing.
    expect(r.counts.updated + r.counts.unchanged).toBeGreaterThanOrEqual(ROWS / 5);
  });

  it('deletes cut before they reach the server (mirror)', async () => {
    await fx.model(`DELETE FROM m WHERE id > 100000 AND id < 100050`);
    const r = await runUnder('cut before DELETE FROM (mirror deletes)', inject({ kind: 'cut-on', pattern: 'DELETE FROM', when: 'before' }));
    expect(r.counts.deleted).toBe(49);
  });

  it('server stops answering during the merge (packets dropped)', async () => {
    await fx.model(`UPDATE m SET ts = ts + INTERVAL 1 DAY WHERE id % 7 = 0`);
    const t0 = Date.now();
    await runUnder('server answers dropped during merge → client read timeout', inject({ kind: 'stall-on', pattern: 'ON CONFLICT' }));
    // Bounded by timeouts.statement (3 s) + the client's 5 s grace, then one retry.
    expect(Date.now() - t0).toBeLessThan(30_000);
  });

  it('every packet delayed (slow network) still converges, without a retry', async () => {
    await fx.model(`UPDATE m SET amount = amount + 3 WHERE id % 11 = 0`);
    await runUnder('20 ms delay on every chunk both ways', inject({ kind: 'delay', ms: 20 }), { expectRetry: false });
  });

  it('backend killed with pg_terminate_backend during the merge', async () => {
    await fx.model(`UPDATE m SET name = name || '?' WHERE id % 13 = 0`);
    // A statement trigger that sleeps makes the merge last long enough to be caught in the act.
    await target.query(`CREATE FUNCTION ${fx.table}_slow() RETURNS trigger AS $$ BEGIN PERFORM pg_sleep(0.3); RETURN NULL; END $$ LANGUAGE plpgsql`);
    await target.query(`CREATE TRIGGER slow AFTER INSERT OR UPDATE ON ${fx.table} FOR EACH STATEMENT EXECUTE FUNCTION ${fx.table}_slow()`);
    try {
      const killed = killWhenSeen(`%INSERT INTO%${fx.table}%ON CONFLICT%`);
      await runUnder('pg_terminate_backend during merge', () => undefined);
      expect(await killed).toBe(1);
    } finally {
      await target.query(`DROP TRIGGER IF EXISTS slow ON ${fx.table}`);
      await target.query(`DROP FUNCTION IF EXISTS ${fx.table}_slow()`);
    }
  });

  it('backend killed with pg_terminate_backend during COPY', async () => {
    await fx.model(`UPDATE m SET amount = amount - 1`);
    const killed = killWhenSeen(`COPY %_outflow_stage_${fx.table}%`);
    // Slow the COPY down a little so the poller sees it in flight.
    await runUnder('pg_terminate_backend during COPY', () => proxy.inject({ kind: 'delay', ms: 5 }));
    expect(await killed).toBe(1);
  });

  it('a server restart as the client sees it: the idle connection dropped while DuckDB diffs', async () => {
    await fx.model(`UPDATE m SET name = upper(name) WHERE id % 4 = 1`);
    let cuts = 0;
    await runUnder('idle connection dropped during the diff (server restart)', () => undefined, {
      onProgress: (e) => {
        if (e.stage === 'diff' && cuts++ === 0) proxy.cutAll();
      },
    });
    expect(cuts).toBeGreaterThanOrEqual(1);
  });

  /** Polls pg_stat_activity (directly, not through the proxy) and terminates the first backend running a matching query. */
  async function killWhenSeen(pattern: string): Promise<number> {
    for (let i = 0; i < 2000; i++) {
      const r = await target.query<{ ok: boolean }>(
        `SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity
          WHERE application_name = 'outflow' AND state = 'active' AND query LIKE $1 AND pid <> pg_backend_pid()`,
        [pattern],
      );
      if (r.rows.length) return r.rows.filter((x) => x.ok).length;
      await new Promise((res) => setTimeout(res, 10));
    }
    return 0;
  }
});
